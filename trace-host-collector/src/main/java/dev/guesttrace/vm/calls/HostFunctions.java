package dev.guesttrace.vm.calls;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * The host functions a guest may call, by name. {@link #standard} has the built-ins:
 *
 * <ul>
 *   <li>{@code HostPrint(string)}: prints the text, returns its length in UTF-8 bytes
 *   <li>{@code HostTimeNanos()}: the host's {@link System#nanoTime()}
 *   <li>{@code HostSleepMicros(n)}: sleeps {@code n} microseconds (at most {@link
 *       #MAX_SLEEP_MICROS}), returns nothing
 * </ul>
 */
public final class HostFunctions {
  /** Longest sleep a guest may ask for: a second. */
  public static final long MAX_SLEEP_MICROS = 1_000_000;

  private final Map<String, HostFunction> functions = new LinkedHashMap<>();

  /** An empty registry. */
  public HostFunctions() {}

  /**
   * A registry with the built-ins.
   *
   * @param printer receives what the guest prints with {@code HostPrint}
   */
  public static HostFunctions standard(Consumer<String> printer) {
    Objects.requireNonNull(printer, "printer");
    return new HostFunctions()
        .register(
            "HostPrint",
            call -> {
              String text = call.stringArg(0, null);
              if (text == null) {
                throw new IllegalArgumentException("HostPrint expects a string argument");
              }
              printer.accept(text);
              return (long) text.getBytes(StandardCharsets.UTF_8).length;
            })
        .register("HostTimeNanos", call -> System.nanoTime())
        .register(
            "HostSleepMicros",
            call -> {
              long micros = call.longArg(0, -1);
              if (micros < 0 || micros > MAX_SLEEP_MICROS) {
                throw new IllegalArgumentException(
                    "HostSleepMicros expects 0.." + MAX_SLEEP_MICROS + " microseconds");
              }
              LockSupport.parkNanos(micros * 1000);
              return null;
            });
  }

  /**
   * Registers {@code function} under {@code name}, replacing any function of that name.
   *
   * @return this
   */
  public synchronized HostFunctions register(String name, HostFunction function) {
    functions.put(
        Objects.requireNonNull(name, "name"), Objects.requireNonNull(function, "function"));
    return this;
  }

  /** The function called {@code name}, if registered. */
  public synchronized Optional<HostFunction> find(String name) {
    return Optional.ofNullable(functions.get(name));
  }

  /** Registered names, in registration order. */
  public synchronized Set<String> names() {
    return Set.copyOf(functions.keySet());
  }
}
