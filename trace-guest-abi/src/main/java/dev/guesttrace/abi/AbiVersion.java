package dev.guesttrace.abi;

/**
 * The semantic version of the guest/host trace ABI, packed into one {@code u32} as {@code major <<
 * 16 | minor << 8 | patch}.
 *
 * <p>Compatibility rule (docs/abi.md, "Versioning"): a host reads a guest whose major version
 * equals its own and whose minor version is at most its own. A guest with a newer minor version may
 * use record kinds or flags the host does not know; the host then counts them as unknown and keeps
 * everything else. A different major version is refused at registration with a message that names
 * both sides.
 *
 * @param major incompatible layout changes
 * @param minor backward-compatible additions (new record kinds, new flags)
 * @param patch clarifications with no change to the bytes
 */
public record AbiVersion(int major, int minor, int patch) {

  /** The version this build of guesttrace speaks. */
  public static final AbiVersion CURRENT = new AbiVersion(1, 0, 0);

  /** Validates the ranges: major and minor fit a byte each above the patch's 8 bits. */
  public AbiVersion {
    if (major < 0 || major > 0xFFFF || minor < 0 || minor > 0xFF || patch < 0 || patch > 0xFF) {
      throw new IllegalArgumentException(
          "version out of range: major=" + major + " minor=" + minor + " patch=" + patch);
    }
  }

  /** Unpacks a version from its wire form. */
  public static AbiVersion fromPacked(int packed) {
    return new AbiVersion(packed >>> 16, (packed >>> 8) & 0xFF, packed & 0xFF);
  }

  /** This version in its wire form. */
  public int packed() {
    return major << 16 | minor << 8 | patch;
  }

  /**
   * Whether a host speaking this version can read a guest speaking {@code guest}: same major, guest
   * minor not newer than ours.
   */
  public boolean canRead(AbiVersion guest) {
    return guest.major == major && guest.minor <= minor;
  }

  /**
   * The one-line message for an incompatible guest, naming both sides, e.g. {@code trace ABI not
   * compatible: host=1.0.0 guest=2.0.0}.
   */
  public String incompatibilityMessage(AbiVersion guest) {
    return "trace ABI not compatible: host=" + this + " guest=" + guest;
  }

  @Override
  public String toString() {
    return major + "." + minor + "." + patch;
  }
}
