-- Up Migration

-- Staking positions as DESIGN.md §6 fixes them, kept by the platform's staking service
-- (it may have created the table already: then it is left exactly as it is).
-- amount is whole tokens; the chain counts base units (10^18 per token).
CREATE TABLE IF NOT EXISTS staking_positions (
  user_id    text           NOT NULL,
  address    text           NOT NULL,
  amount     numeric(38,18) NOT NULL,
  updated_at timestamptz    NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, address)
);

-- The db_chain follower's checkpoint, per pool ('<chainId>:<lower-case address>'):
-- the last processed (confirmed) block and where the pool's history starts.
CREATE TABLE recon_db_chain_follow (
  pool            text        PRIMARY KEY,
  start_block     bigint      NOT NULL CHECK (start_block >= 0),
  processed_block bigint      NULL,
  processed_hash  text        NULL,
  saved_at        timestamptz NOT NULL DEFAULT now(),
  CHECK ((processed_block IS NULL) = (processed_hash IS NULL))
);

-- Hashes of processed blocks inside the rewind window (range ends and blocks with logs).
CREATE TABLE recon_db_chain_blocks (
  pool         text   NOT NULL,
  block_number bigint NOT NULL,
  block_hash   text   NOT NULL,
  PRIMARY KEY (pool, block_number)
);

-- Staked (+) / Unstaked (−) deltas inside the rewind window, in base units.
CREATE TABLE recon_db_chain_deltas (
  pool         text          NOT NULL,
  block_number bigint        NOT NULL,
  log_index    integer       NOT NULL,
  block_hash   text          NOT NULL,
  tx_hash      text          NOT NULL,
  staker       text          NOT NULL,
  amount_base  numeric(78,0) NOT NULL,
  PRIMARY KEY (pool, block_number, log_index)
);

-- Net stake per staker from every log up to the processed block, in base units (uint256 fits).
CREATE TABLE recon_db_chain_stakers (
  pool     text          NOT NULL,
  staker   text          NOT NULL,
  net_base numeric(78,0) NOT NULL,
  PRIMARY KEY (pool, staker)
);

-- Down Migration
-- staking_positions belongs to the staking service: it stays.
DROP TABLE recon_db_chain_stakers;
DROP TABLE recon_db_chain_deltas;
DROP TABLE recon_db_chain_blocks;
DROP TABLE recon_db_chain_follow;
