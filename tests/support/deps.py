"""The outside programs the tests, benchmarks, scripts and the daemon use, and
where each comes from (tests/external-programs), plus a scanner that finds the
programs a source file runs, so that the list cannot silently fall behind.

Used twice: by tests/conftest.py, so a test module whose outside dependency is
missing fails at once naming the Debian package, and by scripts/fresh-check,
which proves every listed package (and every scanned program, python module,
header and library) comes from scripts/install-deps' list or Debian's base."""
import fnmatch
import os
import pathlib
import re
import shutil

REPO = pathlib.Path(__file__).resolve().parents[2]
MANIFEST = pathlib.Path(os.environ.get("DIND_EXTERNAL_PROGRAMS", REPO / "tests" / "external-programs"))
# Programs the daemon itself runs: any test that starts a daemon needs them.
DAEMON_USERS = ("tests/integration/*", "bench/*")
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Entry:
    def __init__(self, name, package, users, line):
        self.name, self.package, self.users, self.line = name, package, users, line

    def used_by(self, rel):
        return any(fnmatch.fnmatch(rel, u) or (u == "dind" and any(fnmatch.fnmatch(rel, d) for d in DAEMON_USERS))
                   for u in self.users)

    def locate(self):
        """The absolute path of the program or file, or None when it is missing."""
        if self.name.startswith("/"):
            return self.name if os.path.exists(self.name) else None
        return shutil.which(self.name, path=SEARCH_PATH)


def manifest():
    """Parses tests/external-programs: `NAME PACKAGE USERS` per line, USERS a
    comma-separated list of globs relative to the repository (or `dind` for
    the daemon's own runtime programs); PACKAGE `machine:` means the machine
    image provides it (the docker 28 CLI) and no Debian package does."""
    entries = []
    for n, raw in enumerate(MANIFEST.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) != 3:
            raise ValueError(f"{MANIFEST}:{n}: expected NAME PACKAGE USERS, got {raw!r}")
        entries.append(Entry(fields[0], fields[1], fields[2].split(","), n))
    return entries


# Shell words that are not programs even when an executable of that name exists.
SHELL_WORDS = {
    "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac", "in",
    "function", "return", "exit", "local", "export", "set", "unset", "shift", "cd", "echo", "printf",
    "read", "exec", "trap", "eval", "source", ".", "[", "[[", "]]", "!", "{", "}", "time", "command",
    "declare", "readonly", "wait", "kill", "true", "false", "test", "break", "continue", ":", "type",
}
PY_LIST_HEAD = re.compile(r"""(?<![\w\)\]])\[\s*f?["']([A-Za-z0-9_.+-]+)["']""")
PY_WHICH = re.compile(r"""shutil\.which\(\s*["']([A-Za-z0-9_.+-]+)["']""")
ABS_PATH = re.compile(r"""["'](/(?:usr/(?:local/)?)?(?:s?bin|lib|libexec)/[A-Za-z0-9_./+-]+)["']""")
CPP_RUN = re.compile(r"""(?:popen|execvp|execlp)\(\s*\(?\s*["']([A-Za-z0-9_.+-]+)[ "']""")
PY_IMPORT = re.compile(r"^(?:import\s+([A-Za-z_]\w*)|from\s+([A-Za-z_]\w*)[\w.]*\s+import\b)", re.M)


def _shell_commands(text):
    in_array = False  # NAME=( ... ) over several lines holds words, not commands
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0]
        if line.lstrip().startswith("#"):
            continue
        line = re.sub(r'"(?:[^"$]|\$(?!\())*"', '""', line)  # quoted words without $( are data
        if in_array:
            in_array = ")" not in line
            continue
        if re.match(r"^\s*[A-Za-z_][A-Za-z0-9_]*=\(", line) and ")" not in line:
            in_array = True
            continue
        for part in re.split(r"\|\||&&|[|;(]|\$\(|\bthen\b|\bdo\b|\belse\b", line):
            words = part.split()
            while words and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]) or words[0] in ("exec", "time", "!", "command")):
                words.pop(0)
            if words and words[0] not in SHELL_WORDS and re.match(r"^[A-Za-z0-9_./+-]+$", words[0]):
                yield words[0]


def scan_file(path):
    """(programs, python modules) a source file runs or imports. Programs are
    names found on this machine's PATH or absolute paths that exist."""
    text = path.read_text(errors="replace")
    names, modules = set(), set()
    if path.suffix == ".py" or text.startswith("#!/usr/bin/python3") or text.startswith("#!/usr/bin/env python3"):
        names |= set(PY_LIST_HEAD.findall(text)) | set(PY_WHICH.findall(text))
        modules |= {a or b for a, b in PY_IMPORT.findall(text)}
    elif path.suffix in (".cpp", ".hpp"):
        names |= set(CPP_RUN.findall(text))
    else:
        names |= set(_shell_commands(text))
    names |= {p for p in ABS_PATH.findall(text) if os.path.isfile(p) and os.access(p, os.X_OK)}
    programs = set()
    for n in names:
        if n.startswith("/"):
            programs.add(n)
        elif n not in SHELL_WORDS and "/" not in n and shutil.which(n, path=SEARCH_PATH):
            programs.add(n)
    return programs, modules


SCANNED = ("tests/conftest.py", "tests/support/*.py", "tests/priv/*.py", "tests/integration/*.py",
           "bench/run", "bench/lib/*.py", "bench/scenarios/*", "scripts/*", "images/build-rootfs",
           ".ci/run", "dind/src/**/*.cpp", "netsetup/src/*.cpp", "certgen/src/*.cpp")


def scanned_files():
    seen = set()
    for pattern in SCANNED:
        for p in sorted(REPO.glob(pattern)):
            if p.is_file() and p not in seen:
                seen.add(p)
                yield p


def user_of(rel):
    """Source files of the daemon count as `dind`."""
    return "dind" if rel.startswith(("dind/", "netsetup/", "certgen/")) else rel


def missing_for(rel):
    """Listed entries a test file relies on (its own scanned programs and the
    manifest's entries for it) that are absent here, as (entry, note)."""
    entries = manifest()
    programs, _ = scan_file(REPO / rel)
    needed = [e for e in entries if e.used_by(rel)]
    needed += [e for e in entries if e.name in programs and e not in needed]
    return [e for e in needed if not e.package.startswith("machine:") and e.locate() is None]


def require_for(rel):
    """Message naming the packages a test module misses, or None."""
    missing = missing_for(rel)
    if not missing:
        return None
    what = ", ".join(f"{e.name} (Debian package {e.package})" for e in missing)
    return f"{rel} needs {what}; run scripts/install-deps"
