package dev.guesttrace.cli;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * One progress line on stderr for long work, as curl or pv draw it: rewritten in place with {@code
 * \r}, at most {@link #MAX_UPDATES_PER_SECOND} times a second, first drawn after {@link
 * #delayMillis()} (short work prints nothing), and erased before the command prints its result. It
 * says what is being done, how much (bytes, records or spans), the rate and, when the total is
 * known (a file's size), the percentage.
 *
 * <p>Whether it is drawn is {@link When}: {@code auto} draws only when stderr is a terminal and the
 * output is for a person (not {@code --quiet}, not {@code --format json|csv}). Java cannot test
 * stderr alone ({@link java.io.Console#isTerminal()} looks at stdin and stdout), so the {@code
 * ./guesttrace} launcher tests it ({@code [ -t 2 ]}) and passes {@code
 * -Dguesttrace.stderr.terminal=true|false}; without it (a plain {@code java -jar}) {@code auto}
 * falls back to {@code System.console().isTerminal()}.
 *
 * <p>Thread-safe: the work updates counters (plain volatile writes, no allocation), one daemon
 * thread draws. Lines the command writes to stderr meanwhile go through {@link #println} so they
 * never land on the progress line.
 */
final class Progress implements AutoCloseable {
  /** When to draw: {@code --progress=auto|always|never}. */
  enum When {
    /** When stderr is a terminal and the output is for a person. */
    AUTO,
    /** Always (tests; a terminal the launcher cannot see). */
    ALWAYS,
    /** Never. */
    NEVER
  }

  /** What {@link #done} counts. */
  enum Unit {
    /** Nothing: the line shows the phase and the time spent. */
    NONE(""),
    /** Bytes of a file (shown in MiB). */
    BYTES("B"),
    /** Trace records. */
    RECORDS("records"),
    /** Spans sent. */
    SPANS("spans");

    final String word;

    Unit(String word) {
      this.word = word;
    }
  }

  /** The line is redrawn at most this often. */
  static final int MAX_UPDATES_PER_SECOND = 10;

  /** Work shorter than this shows no line (the default of {@link #delayMillis()}). */
  static final long DEFAULT_DELAY_MILLIS = 750;

  /** Longest file name shown; longer ones keep their end. */
  private static final int MAX_NAME = 32;

  private final PrintWriter err;
  private final String verb;
  private final Thread ticker;
  private final long startNanos = System.nanoTime();
  private volatile String phase = "";
  private volatile Unit unit = Unit.NONE;
  private volatile long phaseStartNanos = startNanos;
  private volatile long done;
  private volatile long total;
  // Guarded by err: whether the line is on the screen, and its text.
  private boolean shown;
  private String lastText = "";
  private volatile boolean closed;

  private Progress(PrintWriter err, String verb, boolean on) {
    this.err = err;
    this.verb = verb;
    this.ticker =
        on ? Thread.ofPlatform().daemon().name("guesttrace-progress").unstarted(this::tick) : null;
  }

  /**
   * Starts a progress line for {@code verb}, or a silent one.
   *
   * @param forPerson false when stdout carries data for a program ({@code --format json|csv}) or
   *     {@code --quiet} asked for silence: {@code auto} then draws nothing
   */
  static Progress start(PrintWriter err, String verb, When when, boolean forPerson) {
    if (!enabled(when, forPerson)) {
      return new Progress(err, verb, false);
    }
    Progress p = new Progress(err, verb, true);
    p.ticker.start();
    return p;
  }

  /** Whether a line would be drawn. */
  static boolean enabled(When when, boolean forPerson) {
    return switch (when) {
      case ALWAYS -> true;
      case NEVER -> false;
      case AUTO -> forPerson && stderrIsTerminal();
    };
  }

  /** Whether stderr is a terminal: the launcher's finding, else the JDK's console. */
  static boolean stderrIsTerminal() {
    String launcher = System.getProperty("guesttrace.stderr.terminal");
    if (launcher != null) {
      return Boolean.parseBoolean(launcher);
    }
    java.io.Console console = System.console();
    return console != null && console.isTerminal();
  }

  /**
   * How long work runs before the line appears: {@link #DEFAULT_DELAY_MILLIS}, or the system
   * property {@code guesttrace.progress.delayMillis} (tests, to see it on short work).
   */
  static long delayMillis() {
    return Long.getLong("guesttrace.progress.delayMillis", DEFAULT_DELAY_MILLIS);
  }

  /** Whether this line is drawn at all. */
  boolean active() {
    return ticker != null;
  }

  /** A new phase of the work, counting {@code unit} up to {@code total} (0: not known). */
  void phase(String what, Unit unit, long total) {
    this.done = 0;
    this.total = total;
    this.unit = unit;
    this.phaseStartNanos = System.nanoTime();
    this.phase = what;
    // A new phase is drawn at once once the line is due, not at the next tick: work shorter than
    // a tick still shows which phase it was in (and the line's tests do not race the ticker).
    if (ticker != null && System.nanoTime() - startNanos >= delayMillis() * 1_000_000) {
      draw();
    }
  }

  /** A new phase with nothing to count: the line shows the time spent. */
  void phase(String what) {
    phase(what, Unit.NONE, 0);
  }

  /** How much of the phase is done, in its unit. */
  void done(long done) {
    this.done = done;
  }

  /** {@link #done} and a total learnt on the way (spans of an export). */
  void done(long done, long total) {
    this.total = total;
    this.done = done;
  }

  /** Prints {@code line} on stderr, off the progress line (which is redrawn at the next tick). */
  void println(String line) {
    synchronized (err) {
      erase();
      err.println(line);
      err.flush();
    }
  }

  /** The line's text for a phase: pure, for tests. */
  static String text(String verb, String phase, Unit unit, long done, long total, long phaseNanos) {
    StringBuilder b = new StringBuilder("guesttrace ").append(verb).append(": ").append(phase);
    double seconds = phaseNanos / 1e9;
    if (unit == Unit.NONE) {
      return b.append(String.format(Locale.ROOT, ", %.1fs", seconds)).toString();
    }
    b.append(' ');
    if (unit == Unit.BYTES) {
      b.append(mib(done));
      if (total > 0) {
        b.append(" of ")
            .append(mib(total))
            .append(" MiB (")
            .append(100 * done / total)
            .append("%)");
      } else {
        b.append(" MiB");
      }
      if (seconds >= 0.1) {
        b.append(", ").append(mib((long) (done / seconds))).append(" MiB/s");
      }
      return b.toString();
    }
    b.append(done);
    if (total > 0) {
      b.append(" of ").append(total);
    }
    b.append(' ').append(unit.word);
    if (total > 0) {
      b.append(" (").append(100 * done / total).append("%)");
    }
    if (seconds >= 0.1) {
      b.append(", ").append((long) (done / seconds)).append(' ').append(unit.word).append("/s");
    }
    return b.toString();
  }

  /** A file name for the line: its last {@link #MAX_NAME} characters. */
  static String name(java.nio.file.Path path) {
    String s = dev.guesttrace.render.Printable.of(String.valueOf(path.getFileName()));
    return s.length() <= MAX_NAME ? s : "..." + s.substring(s.length() - (MAX_NAME - 3));
  }

  private static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f", bytes / (1024.0 * 1024.0));
  }

  private void tick() {
    try {
      Thread.sleep(delayMillis());
      while (!closed) {
        draw();
        Thread.sleep(1000 / MAX_UPDATES_PER_SECOND);
      }
    } catch (InterruptedException e) {
      // closed: close() erases the line
    }
  }

  /** Draws the line if it changed; a no-op once closed or before the work names a phase. */
  private void draw() {
    String what = phase; // empty until the work names its first phase
    String text = text(verb, what, unit, done, total, System.nanoTime() - phaseStartNanos);
    synchronized (err) {
      if (!closed && !what.isEmpty() && (!shown || !text.equals(lastText))) {
        err.print("\r" + text + "\033[K");
        err.flush();
        shown = true;
        lastText = text;
      }
    }
  }

  /** Erases the line if it is shown; the caller holds {@code err}. */
  private void erase() {
    if (shown) {
      err.print("\r\033[K");
      err.flush();
      shown = false;
    }
  }

  /** Stops drawing and erases the line, so the result prints on a clean line. Idempotent. */
  @Override
  public void close() {
    if (ticker == null || closed) {
      return;
    }
    closed = true;
    ticker.interrupt();
    try {
      ticker.join(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    synchronized (err) {
      erase();
    }
  }
}
