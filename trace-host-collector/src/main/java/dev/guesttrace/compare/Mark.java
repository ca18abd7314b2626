package dev.guesttrace.compare;

/** Whether side B differs from side A by more than the noise; see {@link Comparison}. */
public enum Mark {
  /** The difference is within the run-to-run spread or below the floors. */
  NONE,
  /** B takes longer than A, beyond the noise. */
  SLOWER,
  /** B takes less time than A, beyond the noise. */
  FASTER
}
