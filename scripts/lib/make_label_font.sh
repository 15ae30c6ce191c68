#!/usr/bin/env bash
# scripts/lib/make_label_font.sh [OUTPUT_DIR]
#
# Rebuilds the font the room e-paper labels fall back to when Home Assistant's machine has no
# CJK font of its own (custom_components/ntnu_library/core/label_fonts.py): a subset of Noto Sans
# CJK TC Regular (SIL Open Font License 1.1), written to OUTPUT_DIR, by default
# custom_components/ntnu_library/fonts/:
#
#   NotoSansTC-subset.otf   the subset font
#   NotoSansTC-subset.txt   its characters, as given to pyftsubset (the tests check that the
#                           font draws every one of them)
#   LICENSE-OFL.txt         the font's copyright notice and the OFL 1.1 text, both taken from
#                           the Debian package the font comes from
#
# Not run by the tests or CI: the output is committed. Run it (as root, on Debian bookworm,
# whose package lists `apt-get update` has fetched) only to change the character set, then
# update fonts/README.md (size, character count) to match.
#
# Sources, pinned (override with the environment variables of the same name):
#   fonts-noto-cjk  NOTO_CJK_VERSION=1:20220127+repack1-1 (Noto Sans CJK 2.004)
#   unicode-data    UNICODE_DATA_VERSION=15.0.0-1 (the Unihan database, for the common
#                   characters)
#   fonttools       FONTTOOLS_VERSION=4.68.0 (from PyPI, in a throwaway venv)
#
# The characters: printable ASCII, "…", a few CJK punctuation marks and the ideographic
# space, the words of the label and of the patron page, then the 500 most common Traditional
# Chinese characters. "Most common" is Unihan's kFrequency (1 = most frequent, from
# Traditional Chinese Usenet postings), then kGradeLevel (the Hong Kong school grade that
# teaches the character), then code point; only characters that Big5 encodes count, which
# leaves out the simplified forms that kFrequency also ranks.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out_dir="${1:-$repo_root/custom_components/ntnu_library/fonts}"
NOTO_CJK_VERSION="${NOTO_CJK_VERSION:-1:20220127+repack1-1}"
UNICODE_DATA_VERSION="${UNICODE_DATA_VERSION:-15.0.0-1}"
FONTTOOLS_VERSION="${FONTTOOLS_VERSION:-4.68.0}"
COMMON_CHARACTERS="${COMMON_CHARACTERS:-500}"

mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

# apt-get download writes to the current folder; as root it warns that _apt cannot, harmlessly.
apt-get download "fonts-noto-cjk=$NOTO_CJK_VERSION" "unicode-data=$UNICODE_DATA_VERSION"
dpkg-deb -x fonts-noto-cjk_*.deb pkg
dpkg-deb -x unicode-data_*.deb pkg
ttc="pkg/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"

python3 -m venv ft
ft/bin/pip install --quiet "fonttools==$FONTTOOLS_VERSION"

# The Traditional Chinese face of the collection (index 3 in 2.004).
font_number="$(ft/bin/python - "$ttc" <<'EOF'
import sys

from fontTools.ttLib import TTCollection

for index, font in enumerate(TTCollection(sys.argv[1]).fonts):
    if font["name"].getDebugName(1) == "Noto Sans CJK TC":
        print(index)
        break
else:
    sys.exit("no Noto Sans CJK TC face in the collection")
EOF
)"

# The character list: one line, in this order, duplicates dropped.
python3 - pkg/usr/share/unicode/Unihan_DictionaryLikeData.txt.bz2 "$COMMON_CHARACTERS" \
    >"$out_dir/NotoSansTC-subset.txt" <<'EOF'
import bz2
import sys

frequency: dict[str, int] = {}
grade: dict[str, int] = {}
with bz2.open(sys.argv[1], "rt", encoding="utf-8") as unihan:
    for line in unihan:
        if line.startswith("#") or not line.strip():
            continue
        code_point, field, value = line.rstrip("\n").split("\t", 2)
        character = chr(int(code_point[2:], 16))
        if field == "kFrequency":
            frequency[character] = int(value)
        elif field == "kGradeLevel":
            grade[character] = int(value)


def traditional(character: str) -> bool:
    try:
        character.encode("big5")
    except UnicodeEncodeError:
        return False
    return True


common = sorted(
    (character for character in frequency if traditional(character)),
    key=lambda character: (frequency[character], grade.get(character, 99), ord(character)),
)[: int(sys.argv[2])]
parts = [
    "".join(chr(code) for code in range(0x20, 0x7F)),  # printable ASCII
    "…，。、：；！？（）「」《》·—～\u3000",  # ellipsis, CJK punctuation, ideographic space
    "個人臨時研究室長期閒置使用中登記暫停",  # the label
    "開門結束使用登錄借用歸還研究室樓層可用間總館公館林口分館圖書館",  # the patron page
    "".join(common),
]
print("".join(dict.fromkeys("".join(parts))))
EOF

ft/bin/pyftsubset "$ttc" --font-number="$font_number" \
    --text-file="$out_dir/NotoSansTC-subset.txt" \
    --layout-features='*' --name-IDs='*' --notdef-outline \
    --output-file="$out_dir/NotoSansTC-subset.otf"

# The licence: the font's own copyright and trademark notices (name IDs 0 and 7), then the
# SIL-1.1 paragraph of the package's copyright file, unwrapped from its Debian formatting.
{
    ft/bin/python - "$out_dir/NotoSansTC-subset.otf" <<'EOF'
import sys

from fontTools.ttLib import TTFont

names = TTFont(sys.argv[1])["name"]
print(f"NotoSansTC-subset.otf is a subset of {names.getDebugName(4)} {names.getDebugName(5)}.")
print("Its notices:")
print(names.getDebugName(0))
print(names.getDebugName(7))
print()
EOF
    # The stand-alone "License: SIL-1.1" paragraph (the one after a blank line, not the
    # field of the "Files: *" paragraph), up to the next unindented line.
    awk '
        previous == "" && /^License: SIL-1.1$/ { inside = 1; previous = $0; next }
        inside && /^[^ ]/ { exit }
        inside {
            sub(/^ /, "")
            if ($0 == "." || $0 == "") { blanks++; next }
            for (; blanks > 0; blanks--) print ""
            print
        }
        { previous = $0 }
    ' pkg/usr/share/doc/fonts-noto-cjk/copyright
} >"$out_dir/LICENSE-OFL.txt"

font_bytes="$(wc -c <"$out_dir/NotoSansTC-subset.otf")"
characters="$(python3 -c 'import sys; print(len(sys.stdin.read().rstrip("\n")))' \
    <"$out_dir/NotoSansTC-subset.txt")"
echo "wrote $out_dir/NotoSansTC-subset.otf: $font_bytes bytes, $characters characters"
