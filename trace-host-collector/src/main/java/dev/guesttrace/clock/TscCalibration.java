package dev.guesttrace.clock;

import dev.guesttrace.collect.CalibrationPair;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The fit of guest TSC against host monotonic time over a run's calibration pairs, with its own
 * error estimate: one rate shared by every vCPU (they run on one host TSC, scaled alike), one
 * offset per vCPU (hypervisors give each vCPU its own TSC offset). Immutable.
 *
 * <p>Pairs come from two kinds of source ({@link CalibrationPair.Source}), and the fit treats them
 * as what they are:
 *
 * <ul>
 *   <li><b>Host-read pairs</b> ({@code HOST_AT_ENTRY}, {@code HOST_AT_EXIT}): the host read the
 *       paused vCPU's TSC itself, so the pair is exact within the host's read window and its error
 *       goes either way. With at least two distinct readings they alone give the clock: a plain
 *       least-squares fit (common slope, per-vCPU intercepts) after a robust start (a median of
 *       slopes) and setting aside pairs far off it (a read window stretched by preemption).
 *   <li><b>Guest pairs</b> ({@code GUEST_EXIT}): the TSC the guest read just before an OUT, with
 *       the host's time of the exit. The host time is an upper bound: the guest read its TSC before
 *       the host saw the exit, never after. Without host-read pairs they give the clock as the
 *       highest line no pair lies below (the lower convex hull, a small linear program), each
 *       vCPU's offset at its least-delayed pair, after setting aside pairs far off a first fit (an
 *       impossible early pair is a TSC jump, a late one a slow exit). With host-read pairs they are
 *       checked against the clock: a guest pair the clock places after the host saw its exit breaks
 *       causality, and is counted with its size ({@link #causalityViolations()}).
 * </ul>
 *
 * <p>Where the hypervisor states the rate ({@code KVM_GET_TSC_KHZ}) it is a prior worth {@value
 * #KVM_PRIOR_SIGMA_PPM} ppm (one standard deviation: its kHz resolution and the host clock's own
 * discipline): the chosen rate is the fit and the prior weighted by the inverse of their variances,
 * so a precise fit stands, a noisy one (few pairs, slow exits) gives way to KVM's figure, and with
 * no fit at all KVM's figure is taken. Their disagreement is reported in ppm, and warned about when
 * larger than both errors allow. One tick per nanosecond is assumed only when nothing at all is
 * known, and {@link #warnings()} says so.
 *
 * <p>The reported error ({@link #ppmError()}) is about 95 % (two standard deviations) for the rate
 * chosen: for host-read pairs twice the least-squares standard error; for guest pairs the larger of
 * twice the standard error of a fit through the least-delayed pair of each stretch of the run and
 * the distance between that fit and the hull's slope; combined with the prior as variances combine.
 * The worst residual is the largest distance of a used pair from the clock.
 */
public final class TscCalibration {
  /** Pairs further off the fit than this many robust standard deviations are set aside. */
  public static final int OUTLIER_MADS = 10;

  /** ...and at least this far: exit delays of tens of microseconds are normal, not outliers. */
  public static final long OUTLIER_FLOOR_NANOS = 200_000;

  /** Host-read pairs further off than this floor (and the MAD test) are set aside. */
  public static final long HOST_OUTLIER_FLOOR_NANOS = 2_000;

  /** One standard deviation of a hypervisor's stated TSC rate as a prior, ppm. */
  public static final double KVM_PRIOR_SIGMA_PPM = 10;

  /** A guest pair the clock places later than its exit by more than this breaks causality. */
  public static final long CAUSALITY_TOLERANCE_NANOS = 1_000;

  /** Where the rate came from. */
  public enum RateSource {
    /** Fitted over the pairs; no rate known from elsewhere, or the fit outweighs it 100 to 1. */
    FIT,
    /** The fit and the hypervisor's figure, weighted by their errors. */
    FIT_WITH_KVM_PRIOR,
    /**
     * The hypervisor's figure ({@code KVM_GET_TSC_KHZ}): too few pairs to fit, or a fit so noisy
     * that the figure outweighs it 100 to 1.
     */
    KVM,
    /** Nothing known: one tick per nanosecond assumed. */
    ASSUMED
  }

  private final Values v;

  private TscCalibration(Values v) {
    this.v = v;
  }

  /**
   * Everything a calibration is, as plain values: what the trace file stores, and what a stored
   * calibration is restored from ({@link #of(Values)}).
   *
   * @param ticksPerSecond the chosen guest TSC rate
   * @param rateSource where the chosen rate came from
   * @param ppmError about 95 % error of the chosen rate, ppm; NaN if unknown
   * @param worstResidualNanos the largest distance of a used pair from the clock, ns
   * @param pairCount pairs given
   * @param usedPairs pairs the final fit used
   * @param hostPairsUsed of those, host-read pairs
   * @param jumpCount pairs set aside as impossible (guest TSC jumped)
   * @param slowPairs pairs set aside as slow (or, host-read, a stretched read window)
   * @param invariantTsc the host's invariant-TSC flag
   * @param kvmTscKhz the hypervisor's stated rate, kHz; 0 if none
   * @param fittedTicksPerSecond the pairs' own rate before any prior; NaN if they gave none
   * @param kvmDifferencePpm the pairs' own rate against the hypervisor's, ppm; NaN if either is
   *     missing
   * @param causalityViolations guest pairs the clock places after the host saw their exit
   * @param worstViolationNanos the largest such overhang, ns
   * @param clocks per-vCPU clocks
   * @param warnings what a reader should know, one line each
   */
  public record Values(
      double ticksPerSecond,
      RateSource rateSource,
      double ppmError,
      long worstResidualNanos,
      int pairCount,
      int usedPairs,
      int hostPairsUsed,
      int jumpCount,
      int slowPairs,
      boolean invariantTsc,
      long kvmTscKhz,
      double fittedTicksPerSecond,
      double kvmDifferencePpm,
      int causalityViolations,
      long worstViolationNanos,
      Map<Integer, TscClock> clocks,
      List<String> warnings) {
    /** Checks the rate and the source; copies the collections. */
    public Values {
      Objects.requireNonNull(rateSource, "rateSource");
      if (!(ticksPerSecond > 0) || Double.isInfinite(ticksPerSecond)) {
        throw new IllegalArgumentException("ticksPerSecond must be > 0: " + ticksPerSecond);
      }
      clocks = Collections.unmodifiableMap(new LinkedHashMap<>(clocks));
      warnings = List.copyOf(warnings);
    }
  }

  /** A calibration from stored values (a trace file's fitted clock). */
  public static TscCalibration of(Values values) {
    return new TscCalibration(Objects.requireNonNull(values, "values"));
  }

  /** This calibration as plain values. */
  public Values values() {
    return v;
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
    return new TscCalibration(new Fit(pairs, invariantTsc, kvmTscKhz).values());
  }

  /** Guest TSC ticks per second. */
  public double ticksPerSecond() {
    return v.ticksPerSecond();
  }

  /** Where the rate came from. */
  public RateSource rateSource() {
    return v.rateSource();
  }

  /** Estimated error of the rate (2 standard errors), ppm; NaN if it cannot be estimated. */
  public double ppmError() {
    return v.ppmError();
  }

  /** Worst residual among the pairs used (the longest exit delay), ns. */
  public long worstResidualNanos() {
    return v.worstResidualNanos();
  }

  /** Pairs given. */
  public int pairCount() {
    return v.pairCount();
  }

  /** Pairs the final fit used. */
  public int usedPairs() {
    return v.usedPairs();
  }

  /** Pairs set aside because the guest TSC jumped (host time earlier than possible). */
  public int jumpCount() {
    return v.jumpCount();
  }

  /** Pairs set aside because the host saw the exit unusually late. */
  public int slowPairs() {
    return v.slowPairs();
  }

  /** The host's invariant-TSC flag, as given. */
  public boolean invariantTsc() {
    return v.invariantTsc();
  }

  /**
   * The pairs' own fitted rate's difference from the hypervisor's figure, ppm; NaN if there is no
   * such figure or the pairs gave no rate.
   */
  public double kvmDifferencePpm() {
    return v.kvmDifferencePpm();
  }

  /** The hypervisor's stated guest TSC rate ({@code KVM_GET_TSC_KHZ}), kHz; 0 if none. */
  public long kvmTscKhz() {
    return v.kvmTscKhz();
  }

  /** The pairs' own rate, before any prior; NaN if they gave none. */
  public double fittedTicksPerSecond() {
    return v.fittedTicksPerSecond();
  }

  /** Host-read pairs ({@code HOST_AT_ENTRY}, {@code HOST_AT_EXIT}) the final fit used. */
  public int hostPairsUsed() {
    return v.hostPairsUsed();
  }

  /**
   * Guest pairs the clock places more than {@value #CAUSALITY_TOLERANCE_NANOS} ns after the host
   * saw their exit: the guest read its TSC "after" the exit, which cannot be. Checked only against
   * a clock from host-read pairs.
   */
  public int causalityViolations() {
    return v.causalityViolations();
  }

  /** The largest overhang among {@link #causalityViolations()}, ns. */
  public long worstViolationNanos() {
    return v.worstViolationNanos();
  }

  /** How the clock was made, in words ({@code info} prints it). */
  public String method() {
    String pairs =
        v.hostPairsUsed() > 0
            ? "host-read pairs"
            : v.usedPairs() > 0 ? "guest exit pairs" : "no pairs";
    return switch (v.rateSource()) {
      case FIT -> "fit over " + pairs;
      case FIT_WITH_KVM_PRIOR -> "fit over " + pairs + ", KVM's rate as prior";
      case KVM -> "KVM's rate, offsets from " + pairs;
      case ASSUMED -> "ASSUMED: 1 tick per ns, nothing known";
    };
  }

  /** Whether vCPU {@code vcpu} had pairs, so that it has its own clock. */
  public boolean hasClock(int vcpu) {
    return v.clocks().containsKey(vcpu);
  }

  /** vCPUs with a clock, ascending. */
  public List<Integer> vcpus() {
    List<Integer> list = new ArrayList<>(v.clocks().keySet());
    Collections.sort(list);
    return list;
  }

  /**
   * The clock of vCPU {@code vcpu}, or, if it had no pairs, of the lowest vCPU that had (same rate,
   * its offset); empty if no vCPU had any pair.
   */
  public Optional<TscClock> clock(int vcpu) {
    TscClock own = v.clocks().get(vcpu);
    if (own != null) {
      return Optional.of(own);
    }
    return vcpus().stream().findFirst().map(v.clocks()::get);
  }

  /** What a reader should know about this calibration, one line each; empty if nothing. */
  public List<String> warnings() {
    return v.warnings();
  }

  @Override
  public String toString() {
    return String.format(
        "%.0f ticks/s (%s) ±%.2f ppm, worst residual %d ns, %d/%d pairs (%d host-read), %d jumps",
        v.ticksPerSecond(),
        v.rateSource(),
        v.ppmError(),
        v.worstResidualNanos(),
        v.usedPairs(),
        v.pairCount(),
        v.hostPairsUsed(),
        v.jumpCount());
  }

  /** The computation, kept out of the immutable result. */
  private static final class Fit {
    double ticksPerSecond;
    RateSource rateSource;
    double ppmError = Double.NaN;
    long worstResidualNanos;
    int pairCount;
    int usedPairs;
    int hostPairsUsed;
    int jumpCount;
    int slowPairs;
    boolean invariantTsc;
    long kvmTscKhz;
    double fittedTicksPerSecond = Double.NaN;
    double kvmDifferencePpm = Double.NaN;
    int causalityViolations;
    long worstViolationNanos;
    final Map<Integer, TscClock> clocks = new LinkedHashMap<>();
    final List<String> warnings = new ArrayList<>();

    Fit(List<CalibrationPair> pairs, boolean invariantTsc, long kvmTscKhz) {
      this.invariantTsc = invariantTsc;
      this.kvmTscKhz = Math.max(0, kvmTscKhz);
      this.pairCount = pairs.size();
      List<Group> host = groups(pairs, true);
      List<Group> guest = groups(pairs, false);

      // 1. The pairs' own rate: from host-read pairs if they span any time, else guest pairs.
      double nanosPerTick = Double.NaN;
      boolean fromHost = false;
      if (spread(host, false) > 0) {
        nanosPerTick = hostFit(host);
        fromHost = nanosPerTick > 0;
      }
      if (!(nanosPerTick > 0) && spread(guest, false) > 0) {
        nanosPerTick = guestFit(guest);
      }
      boolean fitted = nanosPerTick > 0 && Double.isFinite(nanosPerTick);
      if (fitted) {
        fittedTicksPerSecond = 1e9 / nanosPerTick;
      }

      // 2. The prior, then the chosen rate.
      choose(fitted, pairs.size());
      double perTick = 1e9 / ticksPerSecond;

      // 3. Offsets at the chosen rate: host-read pairs by least squares (their error goes both
      // ways), else guest pairs at the least-delayed one (their error goes one way).
      Map<Integer, Group> hostByVcpu = new LinkedHashMap<>();
      for (Group g : host) {
        hostByVcpu.put(g.vcpu, g);
      }
      List<Group> offsetGroups = new ArrayList<>();
      for (Group g : host) {
        if (g.used() > 0) {
          offsetGroups.add(g);
        }
      }
      for (Group g : guest) {
        Group h = hostByVcpu.get(g.vcpu);
        if (h == null || h.used() == 0) {
          offsetGroups.add(g);
        }
      }
      offsetGroups.sort((x, y) -> Integer.compare(x.vcpu, y.vcpu));
      for (Group g : offsetGroups) {
        double offset = g.host ? g.meanOffset(perTick) : g.lowestOffset(perTick);
        if (Double.isNaN(offset)) {
          continue;
        }
        clocks.put(g.vcpu, new TscClock(g.x0, g.y0 + Math.round(offset), ticksPerSecond));
        worstResidualNanos = Math.max(worstResidualNanos, g.worstResidual(perTick, offset));
      }
      for (Group g : host) {
        usedPairs += g.used();
        hostPairsUsed += g.used();
      }
      for (Group g : guest) {
        if (!fromHost || offsetGroups.contains(g)) {
          usedPairs += g.used();
        }
      }

      // 4. Causality: with a clock from host-read pairs, no guest pair may be placed after the
      // host saw its exit.
      if (fromHost) {
        for (Group g : guest) {
          TscClock clock = clocks.get(g.vcpu);
          if (clock == null || !hostByVcpu.containsKey(g.vcpu)) {
            continue;
          }
          for (int i = 0; i < g.n; i++) {
            long overhang = clock.toHostNanos(g.x0 + (long) g.dx[i]) - (g.y0 + (long) g.dy[i]);
            if (overhang > CAUSALITY_TOLERANCE_NANOS) {
              causalityViolations++;
              worstViolationNanos = Math.max(worstViolationNanos, overhang);
            }
          }
        }
        if (causalityViolations > 0) {
          warnings.add(
              String.format(
                  Locale.ROOT,
                  "%d guest exit pair(s) placed after the host saw the exit, by up to %.1f µs: "
                      + "the host-read pairs and the guest's disagree",
                  causalityViolations,
                  worstViolationNanos / 1e3));
        }
      }
      if (!invariantTsc) {
        warnings.add("host TSC is not invariant: guest timestamps may drift against host time");
      }
      if (jumpCount > 0) {
        warnings.add(
            "guest TSC jumped: " + jumpCount + " calibration pair(s) set aside as impossible");
      }
    }

    Values values() {
      return new Values(
          ticksPerSecond,
          rateSource,
          ppmError,
          worstResidualNanos,
          pairCount,
          usedPairs,
          hostPairsUsed,
          jumpCount,
          slowPairs,
          invariantTsc,
          kvmTscKhz,
          fittedTicksPerSecond,
          kvmDifferencePpm,
          causalityViolations,
          worstViolationNanos,
          clocks,
          warnings);
    }

    /** One group per vCPU of host-read ({@code host}) or guest pairs, by vCPU order. */
    private static List<Group> groups(List<CalibrationPair> pairs, boolean host) {
      Map<Integer, List<CalibrationPair>> byVcpu = new LinkedHashMap<>();
      for (CalibrationPair p : pairs) {
        if ((p.source() != CalibrationPair.Source.GUEST_EXIT) == host) {
          byVcpu.computeIfAbsent(p.vcpu(), v -> new ArrayList<>()).add(p);
        }
      }
      List<Group> groups = new ArrayList<>();
      for (Map.Entry<Integer, List<CalibrationPair>> e : byVcpu.entrySet()) {
        groups.add(new Group(e.getKey(), e.getValue(), host));
      }
      return groups;
    }

    /**
     * Host-read pairs: exact within the read window, errors both ways. A robust start, pairs far
     * off it set aside (a read stretched by preemption), then least squares. Sets the error.
     */
    private double hostFit(List<Group> groups) {
      double nanosPerTick = medianSlope(groups);
      if (!(nanosPerTick > 0)) {
        nanosPerTick = slope(groups, false);
      }
      for (int round = 0; round < 3 && nanosPerTick > 0; round++) {
        if (!rejectOutliers(groups, nanosPerTick, HOST_OUTLIER_FLOOR_NANOS, false)) {
          break;
        }
        if (spread(groups, false) == 0) {
          return Double.NaN;
        }
        nanosPerTick = slope(groups, false);
      }
      if (nanosPerTick > 0) {
        ppmError = 2 * standardError(groups, nanosPerTick, false) / nanosPerTick * 1e6;
      }
      return nanosPerTick;
    }

    /**
     * Guest pairs: upper bounds. A robust start, outliers set aside (early ones are TSC jumps),
     * then the lower hull. Sets the error.
     */
    private double guestFit(List<Group> groups) {
      // A robust start (a Theil-Sen style median of slopes), so that one wild pair with its
      // leverage cannot drag the first fit so far that every pair looks like an outlier.
      double nanosPerTick = medianSlope(groups);
      if (!(nanosPerTick > 0)) {
        nanosPerTick = slope(groups, false);
      }
      for (int round = 0; round < 3 && nanosPerTick > 0; round++) {
        if (!rejectOutliers(groups, nanosPerTick, OUTLIER_FLOOR_NANOS, true)) {
          break;
        }
        if (spread(groups, false) == 0) {
          break;
        }
        nanosPerTick = slope(groups, false);
      }
      if (!(nanosPerTick > 0)) {
        return nanosPerTick;
      }
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
      // Honest about both: the statistical error of the envelope fit, and how far the hull (which
      // ignores stretches where every exit was slow, e.g. before the JIT warmed up) moved away.
      ppmError =
          Math.max(2 * envelopeError / envelope, Math.abs(nanosPerTick - envelope) / envelope)
              * 1e6;
      return nanosPerTick;
    }

    /** Chooses the rate from the fit and the hypervisor's figure; sets source, error, warnings. */
    private void choose(boolean fitted, int pairs) {
      double kvm = kvmTscKhz * 1000.0;
      if (fitted && kvmTscKhz > 0) {
        kvmDifferencePpm = (fittedTicksPerSecond - kvm) / kvm * 1e6;
      }
      if (fitted && kvmTscKhz > 0 && Double.isFinite(ppmError)) {
        double fitSigma = ppmError / 2;
        double priorSigma = KVM_PRIOR_SIGMA_PPM;
        if (fitSigma == 0) {
          rateSource = RateSource.FIT;
          ticksPerSecond = fittedTicksPerSecond;
        } else {
          // Inverse-variance weights: the textbook combination of two measurements.
          double wFit = 1 / (fitSigma * fitSigma);
          double wKvm = 1 / (priorSigma * priorSigma);
          double share = wKvm / (wFit + wKvm);
          ticksPerSecond = fittedTicksPerSecond + (kvm - fittedTicksPerSecond) * share;
          ppmError = 2 / Math.sqrt(wFit + wKvm);
          rateSource =
              share < 0.01
                  ? RateSource.FIT
                  : share > 0.99 ? RateSource.KVM : RateSource.FIT_WITH_KVM_PRIOR;
        }
        double allowed = 3 * Math.hypot(fitSigma, priorSigma);
        if (Math.abs(kvmDifferencePpm) > allowed) {
          warnings.add(
              String.format(
                  Locale.ROOT,
                  "the pairs' rate differs from KVM's %d kHz by %.1f ppm, more than their errors"
                      + " allow (%.1f ppm): using %s",
                  kvmTscKhz,
                  kvmDifferencePpm,
                  allowed,
                  rateSource == RateSource.KVM ? "KVM's rate" : "mostly the pairs' rate"));
        }
      } else if (fitted) {
        rateSource = RateSource.FIT;
        ticksPerSecond = fittedTicksPerSecond;
        if (kvmTscKhz > 0) {
          // A fit with no error estimate (two or three pairs): KVM's figure is better known.
          rateSource = RateSource.KVM;
          ticksPerSecond = kvm;
          ppmError = 2 * KVM_PRIOR_SIGMA_PPM;
          warnings.add(
              "too few calibration pairs to estimate the fit's error ("
                  + pairs
                  + "): using KVM's "
                  + kvmTscKhz
                  + " kHz");
        }
      } else if (kvmTscKhz > 0) {
        rateSource = RateSource.KVM;
        ticksPerSecond = kvm;
        ppmError = 2 * KVM_PRIOR_SIGMA_PPM;
        warnings.add(
            "too few calibration pairs to fit the TSC rate ("
                + pairs
                + "): using KVM's "
                + kvmTscKhz
                + " kHz");
      } else {
        rateSource = RateSource.ASSUMED;
        ticksPerSecond = 1e9;
        ppmError = Double.NaN;
        if (pairs > 0) {
          warnings.add(
              "TSC RATE UNKNOWN: too few calibration pairs to fit it ("
                  + pairs
                  + ") and no hypervisor figure: assuming 1 tick per ns, durations may be off"
                  + " by any factor");
        } else {
          warnings.add(
              "TSC RATE UNKNOWN: no calibration pairs and no hypervisor figure: guest timestamps"
                  + " cannot be placed on the host clock");
        }
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

    /**
     * Sets aside pairs far off the fit; returns whether any was. With {@code oneSided} (guest
     * pairs) an early pair is a TSC jump and a late one a slow exit; otherwise every one is a slow
     * read.
     */
    private boolean rejectOutliers(
        List<Group> groups, double slope, long floorNanos, boolean oneSided) {
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
      double threshold = Math.max(floorNanos, OUTLIER_MADS * 1.4826 * median(deviations));
      boolean any = false;
      for (Group g : groups) {
        for (int i = 0; i < g.n; i++) {
          if (g.included[i] && Math.abs(g.residual[i] - median) > threshold) {
            g.included[i] = false;
            any = true;
            if (oneSided && g.residual[i] < median) {
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
    final boolean host;
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

    Group(int vcpu, List<CalibrationPair> pairs, boolean host) {
      this.vcpu = vcpu;
      this.host = host;
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

    /** The mean {@code dy - slope * dx} over included pairs: the least-squares offset. */
    double meanOffset(double slope) {
      double sum = 0;
      int k = 0;
      for (int i = 0; i < n; i++) {
        if (included[i]) {
          sum += dy[i] - slope * dx[i];
          k++;
        }
      }
      return k == 0 ? Double.NaN : sum / k;
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
