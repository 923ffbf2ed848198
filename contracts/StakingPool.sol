// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title StakingPool
/// @notice Token-less stake accounting per address: the staking interface the db_chain
///         reconciler reads (docs/chain-staking.md). Amounts are base units, 10^18 per token.
///         Nothing is transferred: the pool only records who staked how much, which is all
///         the reconciliation needs and keeps the contract free of custody risk.
contract StakingPool {
    /// @notice Emitted when `staker` adds `amount` base units to its stake.
    event Staked(address indexed staker, uint256 amount);
    /// @notice Emitted when `staker` removes `amount` base units from its stake.
    event Unstaked(address indexed staker, uint256 amount);

    error ZeroAmount();
    error InsufficientStake(uint256 staked, uint256 requested);

    uint256 private _totalStaked;
    mapping(address => uint256) private _stakes;

    /// @notice Adds `amount` base units to the caller's stake.
    function stake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        _stakes[msg.sender] += amount;
        _totalStaked += amount;
        emit Staked(msg.sender, amount);
    }

    /// @notice Removes `amount` base units from the caller's stake.
    function unstake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 staked = _stakes[msg.sender];
        if (amount > staked) revert InsufficientStake(staked, amount);
        unchecked {
            // amount <= staked <= _totalStaked: neither subtraction can underflow.
            _stakes[msg.sender] = staked - amount;
            _totalStaked -= amount;
        }
        emit Unstaked(msg.sender, amount);
    }

    /// @notice Σ of every stake, in base units.
    function totalStaked() external view returns (uint256) {
        return _totalStaked;
    }

    /// @notice The stake of `staker`, in base units.
    function stakedOf(address staker) external view returns (uint256) {
        return _stakes[staker];
    }
}
