@echo off
rem Start the community service-gap mapper without typing any command: double-click this file.
rem First run: makes a Python environment in .venv next to this file and installs the app's
rem requirements into it (needs the internet once, a few minutes). Every run: installs again
rem only when requirements.txt changed, then opens the app in the browser. Nothing is
rem installed outside this folder.
rem Lines up to "chcp" are ASCII: cmd reads them in the console's code page (936 on Chinese
rem Windows); from there on the file is read as UTF-8.
setlocal
chcp 65001 >nul
cd /d "%~dp0"
set "VENV=%~dp0.venv"
set "STAMP=%VENV%\requirements.installed"

rem Python 3.11 or newer: the py launcher of the python.org installer first, then python.
set "PY="
for %%V in (3.11 3.12 3.13 3) do (
    if not defined PY (
        py -%%V -c "import sys; sys.exit(sys.version_info < (3, 11))" >nul 2>&1 && set "PY=py -%%V"
    )
)
if not defined PY (
    python -c "import sys; sys.exit(sys.version_info < (3, 11))" >nul 2>&1 && set "PY=python"
)
if not defined PY goto nopython

rem A folder left by an interrupted first run (no pip in it) is made again.
if exist "%VENV%\Scripts\python.exe" (
    "%VENV%\Scripts\python.exe" -m pip --version >nul 2>&1 || rmdir /s /q "%VENV%"
)
if exist "%VENV%\Scripts\python.exe" goto installed
echo 第一次运行：正在建立 Python 环境 .venv …
echo First run: making the Python environment .venv ...
%PY% -m venv "%VENV%"
if errorlevel 1 goto novenv

:installed
fc /b requirements.txt "%STAMP%" >nul 2>&1
if not errorlevel 1 goto run
echo 正在安装所需的软件包（需要联网，约几分钟）…
echo Installing the packages the app needs - internet needed, a few minutes ...
del "%STAMP%" >nul 2>&1
"%VENV%\Scripts\python.exe" -m pip install --disable-pip-version-check -r requirements.txt
if errorlevel 1 goto noinstall
copy /y requirements.txt "%STAMP%" >nul

:run
echo 正在打开应用：浏览器会自动打开 http://localhost:8501 ，关闭此窗口即停止。
echo Opening the app: the browser opens http://localhost:8501 - close this window to stop it.
"%VENV%\Scripts\python.exe" -m streamlit run app.py %*
set "RC=%errorlevel%"
if not "%RC%"=="0" pause
exit /b %RC%

:nopython
echo.
echo 找不到 Python 3.11 或更新的版本。请从 https://www.python.org/downloads/windows/ 下载
echo Python 3.11 的安装程序，安装时勾选“Add python.exe to PATH”，然后再双击本文件。
echo Python 3.11 or newer was not found. Install it with the installer from
echo https://www.python.org/downloads/windows/ - tick "Add python.exe to PATH" - then
echo double-click this file again.
pause
exit /b 1

:novenv
echo.
echo 无法建立 Python 环境 .venv。请确认这个文件夹可以写入（不要放在只读的 U 盘或压缩包里）。
echo Could not make the Python environment .venv: make sure this folder can be written
echo - not inside a read-only USB stick or a zip file.
pause
exit /b 1

:noinstall
echo.
echo 软件包安装失败（见上方信息；常见原因：没有联网）。联网后再双击本文件即可继续。
echo Installing the packages failed - see above; usually: no internet. Double-click this
echo file again when online.
pause
exit /b 1
