/**
 * block-library: search spaces (YAML), candidate enumeration per layer, child initialization from the parent (FFN channel pruning, KV-head mean pooling, least-squares linear replacements), and the on-disk store of candidate weights. Built in issue #3.
 */
package dev.puzzle.blocklibrary;
