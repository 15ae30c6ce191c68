# shellcheck shell=bash
# Sourced by scripts/test: makes sure Debian's chromium (driven by Playwright in the patron page
# and status panel tests; Playwright's own browser download is never used) and a font with
# Traditional Chinese (so screenshots show the pages as patrons see them) are installed.
#
# As root with apt-get (CI, these machines) they are installed when missing; otherwise the
# command to run is printed and the step fails: the browser tests never skip silently.

ntnu_browser_packages=(chromium fonts-noto-cjk)

_ntnu_missing_packages() {
    local package
    for package in "${ntnu_browser_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
            echo "$package"
    done
}

ntnu_ensure_browser() {
    local -a missing
    mapfile -t missing < <(_ntnu_missing_packages)
    if [[ ${#missing[@]} -eq 0 ]]; then
        return 0
    fi
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "browser: missing ${missing[*]}: install with 'sudo apt-get install ${missing[*]}'" >&2
        return 1
    fi
    local log started=$SECONDS
    log="$(mktemp)"
    echo "browser: installing ${missing[*]} with apt-get..." >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
        >"$log" 2>&1; then
        # A fresh machine may have no package lists yet.
        DEBIAN_FRONTEND=noninteractive apt-get update >>"$log" 2>&1
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            "${missing[@]}" >>"$log" 2>&1; then
            tail -n 20 "$log" >&2
            echo "browser: could not install ${missing[*]} (log: $log)" >&2
            return 1
        fi
    fi
    rm -f "$log"
    echo "browser: installed ${missing[*]} in $((SECONDS - started)) s" >&2
}
