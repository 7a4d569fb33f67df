/**
 * bld-distill: the activation cache, blockwise local distillation (normalized MSE, AdamW, cosine schedule), job scheduling, resume and sharding, replace-1-block scoring and global knowledge distillation. Built in issues #3 and #5.
 */
package dev.puzzle.bld;
