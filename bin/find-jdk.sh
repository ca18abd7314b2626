# Sourced by ./build and ./guesttrace: sets JAVA_HOME to a JDK 25 or newer, or exits 2 with one line.
# Order: JAVA_HOME if it is 25+, then the usual install folders, then `java` on the PATH.
gt_java_major() {
  # The JDK's release file names its version: reading it costs nothing, starting a JVM to ask
  # costs a tenth of a second on every ./guesttrace run. The JVM is asked only without that file.
  local major=""
  [ -f "$1/release" ] && major=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" | head -n 1)
  if [ -z "$major" ]; then
    major=$("$1/bin/java" -XshowSettings:properties -version 2>&1 \
      | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n 1)
  fi
  echo "$major"
}
gt_find_jdk() {
  local candidate major
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25* /usr/lib/jvm/*25* /usr/lib/jvm/* \
      /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/* \
      /Library/Java/JavaVirtualMachines/*/Contents/Home \
      "$(dirname "$(dirname "$(readlink -f "$(command -v java 2>/dev/null || echo /nonexistent)")")")"; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] && [ -x "$candidate/bin/javac" ] || continue
    major=$(gt_java_major "$candidate")
    if [ -n "$major" ] && [ "$major" -ge 25 ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}
if ! GT_JAVA_HOME=$(gt_find_jdk); then
  echo "guesttrace: no JDK 25 found (looked at JAVA_HOME, /usr/lib/jvm, /opt, ~/.sdkman, ~/.jdks); install one, e.g. 'apt install temurin-25-jdk', and/or set JAVA_HOME" >&2
  exit 2
fi
export JAVA_HOME="$GT_JAVA_HOME"
