package dev.guesttrace.samples;

import dev.guesttrace.abi.CallCodec.FunctionCall;
import dev.guesttrace.guest.GuestProgram;
import dev.guesttrace.guest.GuestRuntime;
import dev.guesttrace.guest.Tracer;
import java.lang.foreign.MemorySegment;
import java.util.List;

/*
 * Guest 03: alloc.
 *
 * What it shows: allocation tracing. The guest runs its own allocator (bump pointer + first-fit
 * free list, GuestHeap) inside its share of guest memory and churns: each operation either
 * allocates 16..4096 bytes (a "malloc" span and an alloc record: address, size) or frees a live
 * block (a "free" span and a free record), all inside one "churn" span. Records carry address
 * and size, so the host can rebuild live bytes and find leaks without a single extra exit.
 *
 * How to run it:
 *
 *   ./guesttrace run alloc                    # 1000 operations
 *   ./guesttrace run alloc --arg ops=20000
 *   ./guesttrace run alloc --arg leak=3       # leave three blocks allocated at the end
 *   ./guesttrace run alloc --arg leak=3 -o alloc.gtrace && ./guesttrace allocs alloc.gtrace
 *   ./guesttrace run alloc --arg slow=malloc  # every malloc spends 50 us more
 *
 * Expected output of `./guesttrace run alloc --deterministic --arg ops=4 --compact` (a stepped clock, so exact;
 * a plain run prints the same tree with real times):
 *
 *   [0µs      ] [host] run alloc 70µs
 *   [3µs      ]   [host] trace register 1µs
 *   [6µs      ]   entrypoint 9µs
 *   [7µs      ]     load_gdt 1µs
 *   [9µs      ]     load_idt 3µs
 *   [10µs     ]       init_idt 1µs
 *   [13µs     ]     hyperlight_main 1µs
 *   [16µs     ]   halt 5µs
 *   [18µs     ]     [host] trace flush 1µs
 *   [21µs     ]   [host] Churn 48µs
 *   [23µs     ]     dispatch_function 40µs
 *   [24µs     ]       internal_dispatch_function 38µs
 *   [25µs     ]         try_pop_shared_input_data_into 3µs
 *   [29µs     ]         call_guest_function 28µs
 *   [31µs     ]           churn 25µs
 *   [32µs     ]             malloc ×4, total 4µs, min/median/max 1µs/1µs/1µs
 *   [44µs     ]             free ×4, total 4µs, min/median/max 1µs/1µs/1µs
 *   [58µs     ]         push_shared_output_data 3µs
 *   [64µs     ]     halt 5µs
 *   [66µs     ]       [host] trace flush 1µs
 */

/** An allocator workload that records alloc and free. */
public final class Guest03Alloc implements GuestProgram {
  /** The guest function the host calls; optional argument: number of operations. */
  public static final String CHURN = "Churn";

  private static final int LIVE_SLOTS = 64;

  /** Creates the guest (found through {@link java.util.ServiceLoader}). */
  public Guest03Alloc() {}

  @Override
  public String name() {
    return "alloc";
  }

  @Override
  public String summary() {
    return "A guest allocator churning malloc/free: alloc and free records, spans around each";
  }

  @Override
  public List<String> args() {
    return List.of(
        "ops=N (allocations and frees when the call gives no count, default 1000)",
        "leak=N (slots never freed, default 0)",
        "slow=malloc|free (spends slowMicros more)",
        "slowMicros=N (default 50)");
  }

  @Override
  public FunctionCall defaultCall() {
    return new FunctionCall(CHURN, List.of());
  }

  @Override
  public void main(GuestRuntime runtime) {}

  /**
   * Runs the churn.
   *
   * @return the number of blocks still allocated at the end ({@code --arg leak}), as a Long
   */
  @Override
  public Object call(GuestRuntime runtime, FunctionCall call) {
    if (!call.name().equals(CHURN)) {
      return Samples.unknownFunction(call.name());
    }
    long ops = call.longArg(0, Samples.longArg(runtime, "ops", 1000, 0, 10_000_000));
    long leak = Samples.longArg(runtime, "leak", 0, 0, LIVE_SLOTS);
    boolean slowMalloc = Samples.isSlow(runtime, "malloc");
    boolean slowFree = Samples.isSlow(runtime, "free");
    Tracer t = runtime.tracer();
    int churn = t.name("churn");
    int malloc = t.name("malloc");
    int free = t.name("free");
    MemorySegment memory = runtime.cpu().memory();
    GuestHeap heap = new GuestHeap(memory, runtime.heapAddress(), runtime.heapLength());
    long[] live = new long[LIVE_SLOTS];
    long[] sizes = new long[LIVE_SLOTS];
    long seed = 0x9E3779B97F4A7C15L * (runtime.cpu().vcpuId() + 1);
    t.begin(churn, ops, 0);
    for (long op = 0; op < ops; op++) {
      seed = xorshift(seed);
      int slot = (int) ((seed >>> 33) % LIVE_SLOTS);
      if (live[slot] == 0) {
        long size = 16 + (seed >>> 52) % 4081; // 16..4096
        t.begin(malloc, size, 0);
        if (slowMalloc) {
          Samples.spin(runtime);
        }
        long address = heap.malloc(size);
        t.end(malloc);
        if (address != 0) {
          t.alloc(address, size);
          memory.asSlice(address, size).fill((byte) slot);
          live[slot] = address;
          sizes[slot] = size;
        }
      } else {
        release(runtime, t, heap, live, sizes, slot, free, slowFree);
      }
    }
    long kept = 0;
    for (int slot = 0; slot < LIVE_SLOTS; slot++) {
      if (live[slot] != 0) {
        if (kept < leak) {
          kept++;
        } else {
          release(runtime, t, heap, live, sizes, slot, free, slowFree);
        }
      }
    }
    t.end(churn);
    return kept;
  }

  private static void release(
      GuestRuntime runtime,
      Tracer t,
      GuestHeap heap,
      long[] live,
      long[] sizes,
      int slot,
      int freeName,
      boolean slow) {
    long address = live[slot];
    long size = sizes[slot];
    t.begin(freeName, size, 0);
    if (slow) {
      Samples.spin(runtime);
    }
    heap.free(address);
    t.end(freeName);
    // The size the guest asked for, as in the alloc record, so the host's live bytes balance.
    t.free(address, size);
    live[slot] = 0;
  }

  private static long xorshift(long x) {
    x ^= x << 13;
    x ^= x >>> 7;
    x ^= x << 17;
    return x;
  }
}
