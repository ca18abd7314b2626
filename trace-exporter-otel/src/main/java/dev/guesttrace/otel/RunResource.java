package dev.guesttrace.otel;

import static dev.guesttrace.otel.GuestTraceAttributes.BACKEND;
import static dev.guesttrace.otel.GuestTraceAttributes.CPU_MODEL;
import static dev.guesttrace.otel.GuestTraceAttributes.HOST_ARCH;
import static dev.guesttrace.otel.GuestTraceAttributes.HOST_JVM;
import static dev.guesttrace.otel.GuestTraceAttributes.HOST_NAME;
import static dev.guesttrace.otel.GuestTraceAttributes.OS_DESCRIPTION;
import static dev.guesttrace.otel.GuestTraceAttributes.OS_TYPE;
import static dev.guesttrace.otel.GuestTraceAttributes.SERVICE_NAME;
import static dev.guesttrace.otel.GuestTraceAttributes.TSC_ERROR_PPM;
import static dev.guesttrace.otel.GuestTraceAttributes.TSC_INVARIANT;
import static dev.guesttrace.otel.GuestTraceAttributes.TSC_TICKS_PER_SECOND;
import static dev.guesttrace.otel.GuestTraceAttributes.TSC_WORST_RESIDUAL_NS;
import static dev.guesttrace.otel.GuestTraceAttributes.VCPU_COUNT;

import dev.guesttrace.span.RunSummary;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.sdk.resources.Resource;
import java.util.Locale;
import java.util.Map;

/** The OTLP resource of a run: who ran it where, and how good its clock was. */
final class RunResource {
  private RunResource() {}

  static final String SERVICE_NAME_ENV = "OTEL_SERVICE_NAME";
  static final String RESOURCE_ATTRIBUTES_ENV = "OTEL_RESOURCE_ATTRIBUTES";

  /**
   * Builds the resource. {@code service.name} is the guest's name unless {@code OTEL_SERVICE_NAME}
   * (or, above it, the caller's explicit name) says otherwise; {@code OTEL_RESOURCE_ATTRIBUTES}
   * adds or overrides other keys, as the specification says.
   */
  static Resource of(RunSummary run, String serviceNameFlag, Map<String, String> env) {
    AttributesBuilder attributes = Attributes.builder();
    putIfPresent(attributes, HOST_NAME, run.hostName());
    putIfPresent(attributes, HOST_ARCH, hostArch(run.arch()));
    putIfPresent(attributes, OS_TYPE, osType(run.os()));
    putIfPresent(attributes, OS_DESCRIPTION, run.os());
    putIfPresent(attributes, CPU_MODEL, run.cpuModel());
    putIfPresent(attributes, BACKEND, run.backend());
    putIfPresent(attributes, HOST_JVM, run.jvm());
    attributes.put(VCPU_COUNT, (long) run.vcpuCount());
    attributes.put(TSC_TICKS_PER_SECOND, run.ticksPerSecond());
    attributes.put(TSC_ERROR_PPM, run.calibrationPpm());
    attributes.put(TSC_WORST_RESIDUAL_NS, run.calibrationWorstResidualNanos());
    attributes.put(TSC_INVARIANT, run.invariantTsc());
    String fromEnv = env.get(RESOURCE_ATTRIBUTES_ENV);
    if (fromEnv != null && !fromEnv.isBlank()) {
      OtlpSettings.parseHeaders(fromEnv, RESOURCE_ATTRIBUTES_ENV).forEach(attributes::put);
    }
    attributes.put(SERVICE_NAME, serviceName(run, serviceNameFlag, env));
    return Resource.getDefault().merge(Resource.create(attributes.build()));
  }

  private static String serviceName(RunSummary run, String flag, Map<String, String> env) {
    if (flag != null && !flag.isBlank()) {
      return flag;
    }
    String fromEnv = env.get(SERVICE_NAME_ENV);
    if (fromEnv != null && !fromEnv.isBlank()) {
      return fromEnv.trim();
    }
    String fromAttributes = env.get(RESOURCE_ATTRIBUTES_ENV);
    if (fromAttributes != null && !fromAttributes.isBlank()) {
      String name =
          OtlpSettings.parseHeaders(fromAttributes, RESOURCE_ATTRIBUTES_ENV).get("service.name");
      if (name != null && !name.isBlank()) {
        return name;
      }
    }
    return run.guest() == null || run.guest().isBlank() ? "guesttrace" : run.guest();
  }

  /** Semantic-convention values for {@code host.arch}: amd64, arm64, x86, ppc64, s390x, ... */
  static String hostArch(String arch) {
    if (arch == null) {
      return null;
    }
    return switch (arch.toLowerCase(Locale.ROOT)) {
      case "x86_64", "amd64", "x64" -> "amd64";
      case "aarch64", "arm64" -> "arm64";
      case "i386", "i486", "i586", "i686", "x86" -> "x86";
      case "ppc64le", "ppc64" -> "ppc64";
      default -> arch.toLowerCase(Locale.ROOT);
    };
  }

  /** Semantic-convention values for {@code os.type}: linux, darwin, windows, freebsd, ... */
  static String osType(String os) {
    if (os == null || os.isBlank()) {
      return null;
    }
    String lower = os.toLowerCase(Locale.ROOT).trim();
    if (lower.startsWith("mac") || lower.startsWith("darwin")) {
      return "darwin";
    }
    if (lower.startsWith("windows")) {
      return "windows";
    }
    int space = lower.indexOf(' ');
    return space < 0 ? lower : lower.substring(0, space);
  }

  private static void putIfPresent(
      AttributesBuilder attributes, AttributeKey<String> key, String value) {
    if (value != null && !value.isBlank()) {
      attributes.put(key, value);
    }
  }
}
