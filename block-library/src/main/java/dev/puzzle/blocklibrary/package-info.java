/**
 * block-library: search spaces (YAML), candidate enumeration per layer, child initialization from the parent (FFN channel pruning, KV-head mean pooling, least-squares linear replacements), the on-disk store of candidate weights, and the typed block library with its block_library.json adapter and variant-name codec. Built in issue #3; the typed library in issue #8.
 */
package dev.puzzle.blocklibrary;
