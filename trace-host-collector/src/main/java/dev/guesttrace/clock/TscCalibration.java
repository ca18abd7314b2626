package dev.guesttrace.clock;

import dev.guesttrace.collect.CalibrationPair;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The fit of guest TSC against host monotonic time over a run's calibration pairs, with its own
 * error estimate: one rate shared by every vCPU (they run on one host TSC, scaled alike), one
 * offset per vCPU (hypervisors give each vCPU its own TSC offset). Immutable.
 *
 * <p>How it fits, and why:
 *
 * <ol>
 *   <li>Least squares of host ns on guest ticks with a common slope and per-vCPU intercepts.
 *   <li>Pairs far off that fit (more than {@value #OUTLIER_MADS} robust standard deviations, and at
 *       least {@value #OUTLIER_FLOOR_NANOS} ns) are set aside and the fit repeated. A pair whose
 *       host time is <em>earlier</em> than the fit says is impossible for a steady TSC (the host
 *       cannot see an exit before the guest read its TSC): it is counted as a TSC jump. A pair far
 *       <em>later</em> is a slow exit (a host pause), set aside without blame.
 *   <li>The host sees an exit some microseconds after the guest read its TSC, never before: the
 *       residuals are one-sided delays. The final slope is that of the highest line no pair lies
 *       below (the lower convex hull across the middle of the run, a small linear program), and
 *       each vCPU's offset is set at its least-delayed pair, as NTP keeps the sample with the
 *       shortest round trip. Converted guest times then fall when the guest read the TSC, not when
 *       the host noticed, and stretches where every exit was slow (a cold JIT, a busy host) do not
 *       tilt the line.
 * </ol>
 *
 * <p>The reported error is the larger of twice the standard error of a least-squares fit through
 * the least-delayed pair of each stretch of the run (about 95 %) and the distance between that fit
 * and the hull's slope, in ppm; the worst residual is the longest exit delay seen among the pairs
 * used. With fewer than two distinct guest TSC values the rate cannot be fitted: it comes from
 * {@code KVM_GET_TSC_KHZ} if known, otherwise one tick per nanosecond is assumed, and {@link
 * #warnings()} says so.
 */
public final class TscCalibration {
  /** Pairs further off the fit than this many robust standard deviations are set aside. */
  public static final int OUTLIER_MADS = 10;

  /** ...and at least this far: exit delays of tens of microseconds are normal, not outliers. */
  public static final long OUTLIER_FLOOR_NANOS = 200_000;

  /** Where the rate came from. */
  public enum RateSource {
    /** Fitted over the pairs. */
    FIT,
    /** The hypervisor's figure ({@code KVM_GET_TSC_KHZ}): too few pairs to fit. */
    KVM,
    /** Nothing known: one tick per nanosecond assumed. */
    ASSUMED
  }

  private final double ticksPerSecond;
  private final RateSource rateSource;
  private final double ppmError;
  private final long worstResidualNanos;
  private final int pairCount;
  private final int usedPairs;
  private final int jumpCount;
  private final int slowPairs;
  private final boolean invariantTsc;
  private final double kvmDifferencePpm;
  private final Map<Integer, TscClock> clocks;
  private final List<String> warnings;

  private TscCalibration(Fit f) {
    this.ticksPerSecond = f.ticksPerSecond;
    this.rateSource = f.rateSource;
    this.ppmError = f.ppmError;
    this.worstResidualNanos = f.worstResidualNanos;
    this.pairCount = f.pairCount;
    this.usedPairs = f.usedPairs;
    this.jumpCount = f.jumpCount;
    this.slowPairs = f.slowPairs;
    this.invariantTsc = f.invariantTsc;
    this.kvmDifferencePpm = f.kvmDifferencePpm;
    this.clocks = Collections.unmodifiableMap(f.clocks);
    this.warnings = List.copyOf(f.warnings);
  }

  /**
   * Fits {@code pairs}.
   *
   * @param pairs calibration pairs of any vCPUs, in any order
   * @param invariantTsc the host's invariant-TSC flag (from the trace header)
   * @param kvmTscKhz the hypervisor's guest TSC rate, 0 if unknown
   */
  public static TscCalibration fit(
      List<CalibrationPair> pairs, boolean invariantTsc, long kvmTscKhz) {
    Objects.requireNonNull(pairs, "pairs");
    return new TscCalibration(new Fit(pairs, invariantTsc, kvmTscKhz));
  }

  /** Guest TSC ticks per second. */
  public double ticksPerSecond() {
    return ticksPerSecond;
  }

  /** Where the rate came from. */
  public RateSource rateSource() {
    return rateSource;
  }

  /** Estimated error of the rate (2 standard errors), ppm; NaN if it cannot be estimated. */
  public double ppmError() {
    return ppmError;
  }

  /** Worst residual among the pairs used (the longest exit delay), ns. */
  public long worstResidualNanos() {
    return worstResidualNanos;
  }

  /** Pairs given. */
  public int pairCount() {
    return pairCount;
  }

  /** Pairs the final fit used. */
  public int usedPairs() {
    return usedPairs;
  }

  /** Pairs set aside because the guest TSC jumped (host time earlier than possible). */
  public int jumpCount() {
    return jumpCount;
  }

  /** Pairs set aside because the host saw the exit unusually late. */
  public int slowPairs() {
    return slowPairs;
  }

  /** The host's invariant-TSC flag, as given. */
  public boolean invariantTsc() {
    return invariantTsc;
  }

  /**
   * The fitted rate's difference from the hypervisor's figure, ppm; NaN if there is no such figure
   * or the rate was not fitted.
   */
  public double kvmDifferencePpm() {
    return kvmDifferencePpm;
  }

  /** Whether vCPU {@code vcpu} had pairs, so that it has its own clock. */
  public boolean hasClock(int vcpu) {
    return clocks.containsKey(vcpu);
  }

  /** vCPUs with a clock, ascending. */
  public List<Integer> vcpus() {
    List<Integer> list = new ArrayList<>(clocks.keySet());
    Collections.sort(list);
    return list;
  }

  /**
   * The clock of vCPU {@code vcpu}, or, if it had no pairs, of the lowest vCPU that had (same rate,
   * its offset); empty if no vCPU had any pair.
   */
  public Optional<TscClock> clock(int vcpu) {
    TscClock own = clocks.get(vcpu);
    if (own != null) {
      return Optional.of(own);
    }
    return vcpus().stream().findFirst().map(clocks::get);
  }

  /** What a reader should know about this calibration, one line each; empty if nothing. */
  public List<String> warnings() {
    return warnings;
  }

  @Override
  public String toString() {
    return String.format(
        "%.0f ticks/s (%s) ±%.2f ppm, worst residual %d ns, %d/%d pairs, %d jumps",
        ticksPerSecond, rateSource, ppmError, worstResidualNanos, usedPairs, pairCount, jumpCount);
  }

  /** The computation, kept out of the immutable result. */
  private static final class Fit {
    double ticksPerSecond;
    RateSource rateSource;
    double ppmError = Double.NaN;
    long worstResidualNanos;
    int pairCount;
    int usedPairs;
    int jumpCount;
    int slowPairs;
    boolean invariantTsc;
    double kvmDifferencePpm = Double.NaN;
    final Map<Integer, TscClock> clocks = new LinkedHashMap<>();
    final List<String> warnings = new ArrayList<>();

    Fit(List<CalibrationPair> pairs, boolean invariantTsc, long kvmTscKhz) {
      this.invariantTsc = invariantTsc;
      this.pairCount = pairs.size();
      Map<Integer, List<CalibrationPair>> byVcpu = new LinkedHashMap<>();
      for (CalibrationPair p : pairs) {
        byVcpu.computeIfAbsent(p.vcpu(), v -> new ArrayList<>()).add(p);
      }
      List<Group> groups = new ArrayList<>();
      for (Map.Entry<Integer, List<CalibrationPair>> e : byVcpu.entrySet()) {
        groups.add(new Group(e.getKey(), e.getValue()));
      }

      double nanosPerTick = Double.NaN;
      if (spread(groups, false) > 0) {
        // A robust start (a Theil-Sen style median of slopes), so that one wild pair with its
        // leverage cannot drag the first fit so far that every pair looks like an outlier.
        nanosPerTick = medianSlope(groups);
        if (!(nanosPerTick > 0)) {
          nanosPerTick = slope(groups, false);
        }
        for (int round = 0; round < 3 && nanosPerTick > 0; round++) {
          if (!rejectOutliers(groups, nanosPerTick)) {
            break;
          }
          if (spread(groups, false) == 0) {
            break;
          }
          nanosPerTick = slope(groups, false);
        }
        if (nanosPerTick > 0) {
          markEnvelope(groups, nanosPerTick);
          double envelope = Double.NaN;
          double envelopeError = Double.NaN;
          if (spread(groups, true) > 0 && envelopeCount(groups) >= 3) {
            envelope = slope(groups, true);
            envelopeError = standardError(groups, envelope, true);
          }
          if (!(envelope > 0)) {
            envelope = nanosPerTick;
            envelopeError = standardError(groups, nanosPerTick, false);
          }
          double hull = hullSlope(groups, envelope);
          // Within the search's own resolution the two agree: keep the closed-form value.
          boolean same = Math.abs(hull - envelope) <= envelope * 1e-12;
          nanosPerTick = hull > 0 && !same ? hull : envelope;
          // Honest about both: the statistical error of the envelope fit, and how far the hull
          // (which ignores stretches where every exit was slow, e.g. before the JIT warmed up)
          // moved away from it.
          ppmError =
              Math.max(2 * envelopeError / envelope, Math.abs(nanosPerTick - envelope) / envelope)
                  * 1e6;
        }
      }
      if (nanosPerTick > 0 && Double.isFinite(nanosPerTick)) {
        rateSource = RateSource.FIT;
        ticksPerSecond = 1e9 / nanosPerTick;
        if (kvmTscKhz > 0) {
          double kvm = kvmTscKhz * 1000.0;
          kvmDifferencePpm = (ticksPerSecond - kvm) / kvm * 1e6;
          if (Math.abs(kvmDifferencePpm) > 1000) {
            warnings.add(
                String.format(
                    "fitted TSC rate differs from KVM's %d kHz by %.0f ppm",
                    kvmTscKhz, kvmDifferencePpm));
          }
        }
      } else if (kvmTscKhz > 0) {
        rateSource = RateSource.KVM;
        ticksPerSecond = kvmTscKhz * 1000.0;
        warnings.add(
            "too few calibration pairs to fit the TSC rate ("
                + pairs.size()
                + "): using KVM's "
                + kvmTscKhz
                + " kHz");
      } else {
        rateSource = RateSource.ASSUMED;
        ticksPerSecond = 1e9;
        if (!groups.isEmpty()) {
          warnings.add(
              "too few calibration pairs to fit the TSC rate ("
                  + pairs.size()
                  + "): assuming 1 tick per ns");
        } else {
          warnings.add("no calibration pairs: guest timestamps cannot be placed on the host clock");
        }
      }
      double perTick = 1e9 / ticksPerSecond;
      for (Group g : groups) {
        double offset = g.lowestOffset(perTick);
        if (Double.isNaN(offset)) {
          continue;
        }
        clocks.put(g.vcpu, new TscClock(g.x0, g.y0 + Math.round(offset), ticksPerSecond));
        usedPairs += g.used();
        worstResidualNanos = Math.max(worstResidualNanos, g.worstResidual(perTick, offset));
      }
      if (!invariantTsc) {
        warnings.add("host TSC is not invariant: guest timestamps may drift against host time");
      }
      if (jumpCount > 0) {
        warnings.add(
            "guest TSC jumped: " + jumpCount + " calibration pair(s) set aside as impossible");
      }
    }

    /** Sum of squared x deviations from each group's mean, over included (or envelope) points. */
    private static double spread(List<Group> groups, boolean envelope) {
      double sxx = 0;
      for (Group g : groups) {
        g.means(envelope);
        for (int i = 0; i < g.n; i++) {
          if (g.uses(i, envelope)) {
            double d = g.dx[i] - g.meanX;
            sxx += d * d;
          }
        }
      }
      return sxx;
    }

    /** Pooled least-squares slope, each group about its own mean (per-vCPU intercepts). */
    private static double slope(List<Group> groups, boolean envelope) {
      double sxy = 0;
      double sxx = 0;
      for (Group g : groups) {
        g.means(envelope);
        for (int i = 0; i < g.n; i++) {
          if (g.uses(i, envelope)) {
            double dx = g.dx[i] - g.meanX;
            sxy += dx * (g.dy[i] - g.meanY);
            sxx += dx * dx;
          }
        }
      }
      return sxy / sxx;
    }

    /**
     * The slope of the highest line (one offset per vCPU) that no included pair lies below, taken
     * at the middle of each vCPU's pairs: a linear program whose objective, for a given slope, is
     * the sum over vCPUs of the lowest residual plus the slope times the mean tick offset. That is
     * concave in the slope, so a ternary search around {@code start} finds its maximum.
     */
    private static double hullSlope(List<Group> groups, double start) {
      double lo = start * (1 - 2e-3);
      double hi = start * (1 + 2e-3);
      for (int i = 0; i < 200 && hi - lo > start * 1e-13; i++) {
        double m1 = lo + (hi - lo) / 3;
        double m2 = hi - (hi - lo) / 3;
        if (hullObjective(groups, m1) < hullObjective(groups, m2)) {
          lo = m1;
        } else {
          hi = m2;
        }
      }
      return (lo + hi) / 2;
    }

    private static double hullObjective(List<Group> groups, double slope) {
      double sum = 0;
      for (Group g : groups) {
        g.means(false);
        double lowest = g.lowestOffset(slope);
        if (!Double.isNaN(lowest)) {
          sum += lowest + slope * g.meanX;
        }
      }
      return sum;
    }

    /** Median of the slopes between each pair and the pair half a vCPU's run later. */
    private static double medianSlope(List<Group> groups) {
      List<Double> slopes = new ArrayList<>();
      for (Group g : groups) {
        int half = g.n / 2;
        for (int i = 0; i + half < g.n && half > 0; i++) {
          double dx = g.dx[i + half] - g.dx[i];
          if (dx != 0) {
            slopes.add((g.dy[i + half] - g.dy[i]) / dx);
          }
        }
      }
      return slopes.isEmpty() ? Double.NaN : median(slopes);
    }

    private static double standardError(List<Group> groups, double slope, boolean envelope) {
      double ss = 0;
      double sxx = 0;
      int n = 0;
      for (Group g : groups) {
        g.means(envelope);
        for (int i = 0; i < g.n; i++) {
          if (g.uses(i, envelope)) {
            double dx = g.dx[i] - g.meanX;
            double r = g.dy[i] - g.meanY - slope * dx;
            ss += r * r;
            sxx += dx * dx;
            n++;
          }
        }
      }
      int dof = n - groups.size() - 1;
      if (dof < 1 || sxx == 0) {
        return Double.NaN;
      }
      return Math.sqrt(ss / dof / sxx);
    }

    /** Sets aside pairs far off the fit; returns whether any was. */
    private boolean rejectOutliers(List<Group> groups, double slope) {
      List<Double> residuals = new ArrayList<>();
      for (Group g : groups) {
        g.means(false);
        for (int i = 0; i < g.n; i++) {
          if (g.included[i]) {
            g.residual[i] = g.dy[i] - g.meanY - slope * (g.dx[i] - g.meanX);
            residuals.add(g.residual[i]);
          }
        }
      }
      if (residuals.size() < 4) {
        return false;
      }
      double median = median(residuals);
      List<Double> deviations = new ArrayList<>();
      for (double r : residuals) {
        deviations.add(Math.abs(r - median));
      }
      double threshold = Math.max(OUTLIER_FLOOR_NANOS, OUTLIER_MADS * 1.4826 * median(deviations));
      boolean any = false;
      for (Group g : groups) {
        for (int i = 0; i < g.n; i++) {
          if (g.included[i] && Math.abs(g.residual[i] - median) > threshold) {
            g.included[i] = false;
            any = true;
            if (g.residual[i] < median) {
              jumpCount++;
            } else {
              slowPairs++;
            }
          }
        }
      }
      return any;
    }

    /** Marks, per group, the least-delayed included pair of each stretch of the run. */
    private static void markEnvelope(List<Group> groups, double slope) {
      for (Group g : groups) {
        int used = g.used();
        int bins = Math.max(1, Math.min(32, used / 8));
        int perBin = Math.max(1, (used + bins - 1) / bins);
        int seen = 0;
        int best = -1;
        for (int i = 0; i < g.n; i++) {
          if (!g.included[i]) {
            continue;
          }
          double r = g.dy[i] - slope * g.dx[i];
          if (best < 0 || r < g.dy[best] - slope * g.dx[best]) {
            best = i;
          }
          seen++;
          if (seen % perBin == 0) {
            g.envelope[best] = true;
            best = -1;
          }
        }
        if (best >= 0) {
          g.envelope[best] = true;
        }
      }
    }

    private static int envelopeCount(List<Group> groups) {
      int n = 0;
      for (Group g : groups) {
        for (boolean e : g.envelope) {
          if (e) {
            n++;
          }
        }
      }
      return n;
    }

    private static double median(List<Double> values) {
      double[] a = new double[values.size()];
      for (int i = 0; i < a.length; i++) {
        a[i] = values.get(i);
      }
      Arrays.sort(a);
      int m = a.length / 2;
      return a.length % 2 == 1 ? a[m] : (a[m - 1] + a[m]) / 2;
    }
  }

  /** One vCPU's pairs, as offsets from its first pair so doubles keep every nanosecond. */
  private static final class Group {
    final int vcpu;
    final int n;
    final long x0;
    final long y0;
    final double[] dx;
    final double[] dy;
    final double[] residual;
    final boolean[] included;
    final boolean[] envelope;
    double meanX;
    double meanY;

    Group(int vcpu, List<CalibrationPair> pairs) {
      this.vcpu = vcpu;
      this.n = pairs.size();
      this.x0 = pairs.get(0).guestTscTicks();
      this.y0 = pairs.get(0).hostNanos();
      dx = new double[n];
      dy = new double[n];
      residual = new double[n];
      included = new boolean[n];
      envelope = new boolean[n];
      for (int i = 0; i < n; i++) {
        dx[i] = (double) (pairs.get(i).guestTscTicks() - x0);
        dy[i] = (double) (pairs.get(i).hostNanos() - y0);
        included[i] = true;
      }
    }

    boolean uses(int i, boolean envelopeOnly) {
      return envelopeOnly ? envelope[i] : included[i];
    }

    void means(boolean envelopeOnly) {
      double sx = 0;
      double sy = 0;
      int k = 0;
      for (int i = 0; i < n; i++) {
        if (uses(i, envelopeOnly)) {
          sx += dx[i];
          sy += dy[i];
          k++;
        }
      }
      meanX = k == 0 ? 0 : sx / k;
      meanY = k == 0 ? 0 : sy / k;
    }

    int used() {
      int k = 0;
      for (boolean b : included) {
        if (b) {
          k++;
        }
      }
      return k;
    }

    /** The smallest {@code dy - slope * dx} over included pairs: the least-delayed offset. */
    double lowestOffset(double slope) {
      double best = Double.NaN;
      for (int i = 0; i < n; i++) {
        if (included[i]) {
          double r = dy[i] - slope * dx[i];
          if (Double.isNaN(best) || r < best) {
            best = r;
          }
        }
      }
      return best;
    }

    long worstResidual(double slope, double offset) {
      double worst = 0;
      for (int i = 0; i < n; i++) {
        if (included[i]) {
          worst = Math.max(worst, Math.abs(dy[i] - slope * dx[i] - offset));
        }
      }
      return Math.round(worst);
    }
  }
}
