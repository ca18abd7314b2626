package dev.guesttrace.otel;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Apache SkyWalking OAP 10.1.0 as a separate process on loopback: a real OTLP/gRPC backend that
 * answers through the Zipkin v2 query API. Its classpath (resolved by the module build from
 * src/test/skywalking/pom.xml) never touches the test's own; its configuration folder goes first on
 * it. Stopped by PID: SIGTERM, then a kill after a grace period; a shutdown hook covers a test JVM
 * that dies first.
 */
final class SkyWalkingOap implements AutoCloseable {
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(120);
  private static final Duration STOP_GRACE = Duration.ofSeconds(10);

  private final Process process;
  private final Thread shutdownHook;
  private final Path log;
  final int grpcPort;
  final int zipkinPort;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  private SkyWalkingOap(Process process, Thread hook, Path log, int grpcPort, int zipkinPort) {
    this.process = process;
    this.shutdownHook = hook;
    this.log = log;
    this.grpcPort = grpcPort;
    this.zipkinPort = zipkinPort;
  }

  /**
   * Starts OAP and waits until both its OTLP/gRPC port and its Zipkin query API answer.
   *
   * @throws IllegalStateException with the end of OAP's log when it does not come up
   */
  static SkyWalkingOap start() throws IOException, InterruptedException {
    return start("512m");
  }

  /** Starts OAP with the given maximum heap, e.g. {@code 512m}. */
  static SkyWalkingOap start(String maxHeap) throws IOException, InterruptedException {
    Path configDir = Path.of(System.getProperty("skywalking.configDir"));
    Path classpathFile = Path.of(System.getProperty("skywalking.classpathFile"));
    Path workDir = Path.of(System.getProperty("skywalking.workDir"));
    if (!Files.isRegularFile(classpathFile)) {
      throw new IllegalStateException(
          "no SkyWalking classpath at "
              + classpathFile
              + ": the module build resolves it (./build -pl trace-exporter-otel -am verify)");
    }
    String classpath = Files.readString(classpathFile, StandardCharsets.UTF_8).strip();
    for (String jar : classpath.split(File.pathSeparator)) {
      if (!Files.isRegularFile(Path.of(jar))) {
        throw new IllegalStateException(
            "SkyWalking jar missing: " + jar + " (delete " + classpathFile + " and build again)");
      }
    }
    Files.createDirectories(workDir);
    int[] ports = freePorts(3);
    int grpcPort = ports[0];
    int restPort = ports[1];
    int zipkinPort = ports[2];
    Path log = workDir.resolve("oap-" + grpcPort + ".log");
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> command = new ArrayList<>();
    command.add(javaBin);
    command.add("-Xmx" + maxHeap);
    command.add("-XX:TieredStopAtLevel=1");
    command.add("--enable-native-access=ALL-UNNAMED");
    command.add("--sun-misc-unsafe-memory-access=allow");
    command.add("-Dcom.linecorp.armeria.warnNettyVersions=false");
    command.add("-DSW_CORE_GRPC_PORT=" + grpcPort);
    command.add("-DSW_CORE_REST_PORT=" + restPort);
    command.add("-DSW_QUERY_ZIPKIN_REST_PORT=" + zipkinPort);
    command.add("-cp");
    command.add(configDir + File.pathSeparator + classpath);
    command.add("org.apache.skywalking.oap.server.starter.OAPServerStartUp");
    Process process =
        new ProcessBuilder(command)
            .directory(workDir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    Thread hook = new Thread(() -> stop(process), "stop-skywalking-oap");
    Runtime.getRuntime().addShutdownHook(hook);
    SkyWalkingOap oap = new SkyWalkingOap(process, hook, log, grpcPort, zipkinPort);
    try {
      oap.awaitReady();
      return oap;
    } catch (IOException | InterruptedException | RuntimeException | Error e) {
      oap.close();
      throw e;
    }
  }

  private void awaitReady() throws InterruptedException, IOException {
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IllegalStateException(
            "SkyWalking OAP exited with " + process.exitValue() + " while starting:\n" + logTail());
      }
      if (portOpen(grpcPort) && get("/zipkin/api/v2/services") != null) {
        return;
      }
      Thread.sleep(250);
    }
    throw new IllegalStateException(
        "SkyWalking OAP not ready after " + READY_TIMEOUT.toSeconds() + " s:\n" + logTail());
  }

  /** The OTLP/gRPC endpoint. */
  String otlpEndpoint() {
    return "http://127.0.0.1:" + grpcPort;
  }

  /**
   * GETs a path of the Zipkin query API.
   *
   * @return the body, or null unless the status is 200
   */
  String get(String path) throws InterruptedException {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + zipkinPort + path))
            .timeout(Duration.ofSeconds(5))
            .GET()
            .build();
    try {
      HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
      return response.statusCode() == 200 ? response.body() : null;
    } catch (IOException e) {
      return null;
    }
  }

  long pid() {
    return process.pid();
  }

  boolean isAlive() {
    return process.isAlive();
  }

  String logTail() {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  @Override
  public void close() {
    stop(process);
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException alreadyShuttingDown) {
      // The hook is running or has run; the process is being stopped either way.
    }
  }

  /** SIGTERM (OAP stops in about 3 s), then SIGKILL if it has not exited after the grace period. */
  private static void stop(Process process) {
    if (!process.isAlive()) {
      return;
    }
    process.destroy();
    try {
      if (!process.waitFor(STOP_GRACE.toSeconds(), TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(STOP_GRACE.toSeconds(), TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  private static boolean portOpen(int port) {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 500);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** Ports free right now on loopback; held open together so the three differ. */
  private static int[] freePorts(int count) {
    List<ServerSocket> sockets = new ArrayList<>();
    try {
      int[] ports = new int[count];
      for (int i = 0; i < count; i++) {
        ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        sockets.add(socket);
        ports[i] = socket.getLocalPort();
      }
      return ports;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      for (ServerSocket socket : sockets) {
        try {
          socket.close();
        } catch (IOException ignored) {
          // Closing a listening socket that accepted nothing does not fail in practice.
        }
      }
    }
  }
}
