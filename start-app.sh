#!/usr/bin/env bash
# Start the community service-gap mapper (社区服务缺口地图) without typing any command.
#
# First run: makes a Python environment in .venv next to this file and installs the app's
# requirements into it (needs the internet once, a few minutes). Every run: installs again
# only when requirements.txt changed, then opens the app in the browser. Nothing is installed
# outside this folder. Double-click it in a file manager ("Run"), or run `bash start-app.sh`.
#
# PYTHON=/path/to/python3.11 chooses the Python (default: python3, which must be 3.11 or newer).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here" || exit 1
venv="$here/.venv"
stamp="$venv/requirements.installed"

say() { printf '%s\n' "$@"; }
fail() {
    say "" "$@" ""
    # a window opened by double-click would close before anyone could read the message
    if [ -t 0 ]; then read -r -p "按回车键关闭 / Press Enter to close " _; fi
    exit 1
}

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    fail "找不到 Python 3.11 或更新的版本（试过：$python）。请先安装 Python 3.11，再运行本脚本。" \
        "Python 3.11 or newer was not found (tried: $python). Install Python 3.11, then run this again."
fi

# a folder left by an interrupted first run (no pip in it) is made again
if [ -d "$venv" ] && ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
    say "第一次运行：正在建立 Python 环境（.venv）…" "First run: making the Python environment (.venv)..."
    "$python" -m venv "$venv" ||
        fail "无法建立 Python 环境 .venv（Debian/Ubuntu 上请先安装 python3-venv）。" \
            "Could not make the Python environment .venv (on Debian/Ubuntu install python3-venv first)."
fi

if ! cmp -s requirements.txt "$stamp"; then
    say "正在安装所需的软件包（需要联网，约几分钟）…" "Installing the packages the app needs (internet needed, a few minutes)..."
    rm -f "$stamp"
    "$venv/bin/python" -m pip install --disable-pip-version-check -r requirements.txt ||
        fail "软件包安装失败（见上方信息；常见原因：没有联网）。联网后再运行一次本脚本即可继续。" \
            "Installing the packages failed (see above; usually: no internet). Run this again when online."
    cp requirements.txt "$stamp"
fi

say "正在打开应用（浏览器会自动打开 http://localhost:8501；关闭此窗口即停止）…" \
    "Opening the app (the browser opens http://localhost:8501; close this window to stop it)..."
exec "$venv/bin/python" -m streamlit run app.py "$@"
