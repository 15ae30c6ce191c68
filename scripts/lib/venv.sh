# shellcheck shell=bash
# Sourced by scripts/test and scripts/demo: makes sure .venv in the repository root holds
# Python 3.13 and the packages of requirements/test.txt and requirements/demo.txt, then puts
# it first on PATH. (requirements/test-current.txt belongs to scripts/lib/test-current's
# own environment and is neither installed nor hashed here.)
#
# The venv is rebuilt only when those files (or the Python it was built with) change: their
# sha256 is kept in .venv/.requirements.sha256 and written last, so an interrupted build is
# redone on the next run.
#
# Python: a working `python3.13` on PATH, else pyenv's 3.13.x. NTNU_LIBRARY_PYTHON=/path/to/python
# overrides both.
#
# NTNU_VENV_REUSE_ONLY=1 never builds: a missing or outdated .venv is an error instead (the
# tests run scripts/demo so, since a test must never install anything).

ntnu_repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ntnu_requirement_files=(requirements/test.txt requirements/demo.txt)

_ntnu_is_py313() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 13) else 1)' >/dev/null 2>&1
}

_ntnu_find_python() {
    local candidate version prefix
    if [[ -n "${NTNU_LIBRARY_PYTHON:-}" ]]; then
        if _ntnu_is_py313 "$NTNU_LIBRARY_PYTHON"; then
            echo "$NTNU_LIBRARY_PYTHON"
            return 0
        fi
        echo "venv: NTNU_LIBRARY_PYTHON=$NTNU_LIBRARY_PYTHON is not a working Python 3.13" >&2
        return 1
    fi
    # A pyenv shim named python3.13 may exist and still fail, so run it rather than trust `command -v`.
    for candidate in python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && _ntnu_is_py313 "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        for version in 3.13.0 $(pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.[0-9]+)?$' | sort -rV); do
            prefix="$(pyenv prefix "$version" 2>/dev/null)" || continue
            candidate="$prefix/bin/python3.13"
            if _ntnu_is_py313 "$candidate"; then
                echo "$candidate"
                return 0
            fi
        done
    fi
    echo "venv: Python 3.13 not found. Install it (python3.13 on PATH, or 'pyenv install 3.13'), or set NTNU_LIBRARY_PYTHON." >&2
    return 1
}

# sha256 of the requirement files (names and contents) plus the interpreter's version.
_ntnu_requirements_hash() {
    (cd "$ntnu_repo_root" && "$1" - "${ntnu_requirement_files[@]}") <<'PY'
import hashlib, pathlib, sys
digest = hashlib.sha256(sys.version.encode())
for name in sys.argv[1:]:
    digest.update(name.encode() + b"\0" + pathlib.Path(name).read_bytes() + b"\0")
print(digest.hexdigest())
PY
}

_ntnu_venv_build() {
    local python="$1" venv="$2" want="$3" log started req
    local -a req_args=()
    for req in "${ntnu_requirement_files[@]}"; do
        req_args+=(-r "$ntnu_repo_root/$req")
    done
    started=$SECONDS
    echo "venv: building .venv with $("$python" -V 2>&1) (first run takes a few minutes)..." >&2
    "$python" -m venv --clear "$venv" || return 1
    log="$venv/pip-install.log"
    # A failed pip upgrade (offline mirror without pip) is not fatal: the bundled pip works.
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >"$log" 2>&1 ||
        echo "venv: warning: could not upgrade pip (see $log)" >&2
    if ! "$venv/bin/python" -m pip install --disable-pip-version-check "${req_args[@]}" >>"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "venv: pip install failed; full log in $log" >&2
        return 1
    fi
    echo "$want" >"$venv/.requirements.sha256"
    echo "venv: built .venv in $((SECONDS - started)) s ($("$venv/bin/python" -V 2>&1), ${ntnu_requirement_files[*]} installed)" >&2
}

ntnu_venv_setup() {
    local python venv want have=""
    venv="$ntnu_repo_root/.venv"
    python="$(_ntnu_find_python)" || return 1
    want="$(_ntnu_requirements_hash "$python")" || return 1
    if [[ -f "$venv/.requirements.sha256" ]] && _ntnu_is_py313 "$venv/bin/python"; then
        have="$(cat "$venv/.requirements.sha256")"
    fi
    if [[ "$have" == "$want" ]]; then
        echo "venv: reusing .venv ($("$venv/bin/python" -V 2>&1), requirements unchanged)" >&2
    elif [[ "${NTNU_VENV_REUSE_ONLY:-}" == "1" ]]; then
        echo "venv: .venv is missing or out of date and NTNU_VENV_REUSE_ONLY=1: not building it (scripts/test builds it)" >&2
        return 1
    else
        # Several people (or CI jobs) may run the scripts at once in one checkout: build once.
        local lock_fd="" status=0
        mkdir -p "$ntnu_repo_root/.cache"
        if command -v flock >/dev/null 2>&1; then
            exec {lock_fd}>"$ntnu_repo_root/.cache/venv.lock"
            flock "$lock_fd"
        fi
        if [[ -f "$venv/.requirements.sha256" && "$(cat "$venv/.requirements.sha256")" == "$want" ]]; then
            echo "venv: reusing .venv, just built by another run" >&2
        else
            _ntnu_venv_build "$python" "$venv" "$want" || status=1
        fi
        if [[ -n "$lock_fd" ]]; then
            exec {lock_fd}>&-
        fi
        if [[ $status -ne 0 ]]; then
            return 1
        fi
    fi
    export VIRTUAL_ENV="$venv"
    export PATH="$venv/bin:$PATH"
    unset PYTHONHOME
    return 0
}

ntnu_venv_setup
