package dev.guesttrace.guest;

/**
 * The code of an emulated guest as its backend sees it: two entry points, as a loaded guest binary
 * has (Hyperlight's entrypoint and dispatch function). Both end with {@link GuestCpu#hlt()}.
 */
public interface GuestImage {
  /** Entered once on each vCPU after the host wrote the boot info. */
  void boot(GuestCpu cpu);

  /** Entered for each guest call; the call sits in this vCPU's input buffer. */
  void dispatch(GuestCpu cpu);
}
