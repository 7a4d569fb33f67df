/**
 * hardware-profiles: hardware profiles (YAML), workloads, the analytic roofline and the measured cost models, KV-cache memory. Built in issue #4.
 */
package dev.puzzle.hardware;
