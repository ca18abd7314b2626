package dev.guesttrace.cli;

import dev.guesttrace.collect.Diagnostic;
import dev.guesttrace.collect.TraceData;
import dev.guesttrace.file.TraceFileWriter;
import dev.guesttrace.recover.DumpException;
import dev.guesttrace.recover.DumpFormat;
import dev.guesttrace.recover.DumpRecovery;
import dev.guesttrace.render.InfoRenderer;
import dev.guesttrace.render.Printable;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code guesttrace recover DUMP -o OUT.gtrace}: the trace rings of a guest-memory dump (QEMU
 * dump-guest-memory, a Firecracker snapshot memory file, a raw copy of guest RAM) as a trace file.
 */
@Command(
    name = "recover",
    mixinStandardHelpOptions = true,
    description =
        "Read the trace rings out of a guest-memory dump (raw or ELF core) into a trace file.")
final class RecoverCommand implements Callable<Integer> {
  @Mixin CommonOptions common;
  @Spec CommandSpec spec;

  @Parameters(
      index = "0",
      paramLabel = "DUMP",
      description = "Guest memory: raw (address 0 at offset 0) or an ELF core (QEMU).")
  Path dump;

  @Option(
      names = "--format",
      paramLabel = "FORMAT",
      description = "raw or elf-core (default: elf-core if the file starts with the ELF magic).")
  String format;

  @Option(
      names = "--region",
      paramLabel = "ADDRESS",
      converter = RecoverCommand.Address.class,
      description =
          "Guest physical address of a trace region, e.g. 0x28000 (repeatable; default: scan).")
  List<Long> regions = new ArrayList<>();

  @Option(
      names = "--tsc-ghz",
      paramLabel = "GHZ",
      description =
          "The guest TSC rate in GHz (default: 1 GHz assumed, as a dump holds no calibration).")
  Double tscGhz;

  @Option(
      names = {"-o", "--output"},
      paramLabel = "FILE",
      required = true,
      description = "The trace file to write.")
  Path output;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    // Usage errors before anything is written.
    configure(DumpRecovery.builder(dump, TraceData.builder()));
    if (sameFile(dump, output)) {
      throw CliException.usage("-o: " + output + " is the dump itself; write the trace elsewhere");
    }
    DumpRecovery.Builder recovery;
    TraceFileWriter writer;
    try {
      writer = TraceFileWriter.create(output, "guesttrace recover");
    } catch (IOException e) {
      throw CliException.badData("cannot write " + output + ": " + Errors.cause(e), e);
    }
    DumpRecovery.Result result;
    try (writer) {
      recovery = DumpRecovery.builder(dump, writer);
      configure(recovery);
      Path parent = output.toAbsolutePath().getParent();
      if (parent != null) {
        recovery.setScratchDirectory(parent);
      }
      result = recovery.build().recover();
    } catch (DumpException e) {
      throw CliException.badData(e.getMessage(), e);
    } catch (IOException e) {
      throw CliException.badData("cannot read " + dump + ": " + Errors.cause(e), e);
    }
    if (writer.error().isPresent()) {
      throw CliException.badData(
          "writing " + output + " failed: " + Errors.cause(writer.error().get()));
    }
    for (DumpRecovery.Region r : result.recovered()) {
      out.printf(
          "region 0x%x  vCPU %d  %s mode  %d slots%n",
          r.address(), r.vcpu(), r.mode(), r.capacity());
    }
    out.flush();
    if (result.losses().total() > 0) {
      err.println(
          "guesttrace recover: lost "
              + InfoRenderer.losses(result.losses())
              + " (see 'guesttrace info "
              + output
              + "')");
    }
    if (!result.diagnostics().isEmpty()) {
      err.println(
          "guesttrace recover: "
              + result.diagnostics().stream().mapToLong(Diagnostic::count).sum()
              + " diagnostics about the dump, first: "
              + Printable.of(result.diagnostics().get(0).first())
              + " (see 'guesttrace info "
              + output
              + "')");
    }
    err.println(
        "guesttrace recover: wrote "
            + output
            + " ("
            + result.recordCount()
            + " records from "
            + result.recovered().size()
            + " of "
            + result.candidates().size()
            + " candidate regions, "
            + result.format().cliName()
            + " dump, clock "
            + (tscGhz == null ? "uncalibrated: 1 GHz assumed" : "at the given " + tscGhz + " GHz")
            + ")");
    err.flush();
    if (result.recovered().isEmpty()) {
      throw CliException.badData(
          "no trace region recovered from "
              + dump
              + (result.candidates().isEmpty()
                  ? ": no region magic at any 8-byte aligned address"
                  : ": every candidate refused (see 'guesttrace info " + output + "')"));
    }
    return Errors.OK;
  }

  private void configure(DumpRecovery.Builder recovery) {
    if (format != null) {
      recovery.setFormat(
          DumpFormat.ofCliName(format)
              .orElseThrow(
                  () ->
                      CliException.usage(
                          "--format: expected raw or elf-core, found '" + format + "'")));
    }
    try {
      for (long address : regions) {
        recovery.addRegion(address);
      }
      if (tscGhz != null) {
        recovery.setTscGhz(tscGhz);
      }
    } catch (IllegalArgumentException e) {
      throw CliException.usage(e.getMessage());
    }
  }

  /** Whether both exist and are one file: writing the trace would destroy the dump first. */
  private static boolean sameFile(Path a, Path b) {
    try {
      return Files.exists(a) && Files.exists(b) && Files.isSameFile(a, b);
    } catch (IOException e) {
      return false; // cannot tell: the dump's own reading reports what is wrong with it
    }
  }

  /** Parses a guest physical address: {@code 0x28000} or {@code 163840}. */
  static final class Address implements CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      String v = value.trim().toLowerCase(java.util.Locale.ROOT);
      try {
        long a =
            v.startsWith("0x") ? Long.parseUnsignedLong(v.substring(2), 16) : Long.parseLong(v);
        if (a < 0) {
          throw new NumberFormatException();
        }
        return a;
      } catch (NumberFormatException e) {
        throw new CommandLine.TypeConversionException(
            "expected an address such as 0x28000 or 163840, found '" + value + "'");
      }
    }
  }
}
