/**
 * cli: the {@code puzzle} command (picocli). Commands are thin: parse, load, call one library
 * function, write output. Only this module turns exceptions into messages and exit codes.
 */
package dev.puzzle.cli;
