export { buildMerkleSumTree, NegativeBalanceError, SumOverflowError, paddingUserId } from './merkle-sum-tree.js';
export type { MerkleSumLeafInput, MerkleSumTree, MerkleSumTreeOptions, ProofContext } from './merkle-sum-tree.js';
export { generateSalt, paddingSaltsFromSeed, userSaltFromSeed, saltBytes } from './salts.js';
export type { Bytes } from './merkle-sum-hash.js';
export { inclusionProofSchema, recomputeRoot, verifyProof, verifyProofFile } from './verify-proof.js';
export type { InclusionProof, ProofVerdict } from './verify-proof.js';
