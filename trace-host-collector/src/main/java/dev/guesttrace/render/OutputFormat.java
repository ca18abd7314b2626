package dev.guesttrace.render;

import java.util.Locale;

/** How a reading verb writes its result: for people, or for scripts (docs/formats.md). */
public enum OutputFormat {
  /** Aligned text for a terminal. */
  TEXT,
  /** One JSON document with a {@code schema} field naming its versioned schema. */
  JSON,
  /** A header row, then one row per item; durations in nanoseconds. */
  CSV;

  /** Parses {@code text}, {@code json} or {@code csv}, any case. */
  public static OutputFormat parse(String name) {
    return switch (name.toLowerCase(Locale.ROOT)) {
      case "text" -> TEXT;
      case "json" -> JSON;
      case "csv" -> CSV;
      default ->
          throw new IllegalArgumentException("expected text, json or csv, found '" + name + "'");
    };
  }
}
