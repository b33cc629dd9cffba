#!/usr/bin/env bash
# build.sh — restores (NuGet: Microsoft.PowerShell.SDK, Pester) and builds
# renewd-pshost into tests/windows/bin/host (gitignored), with the emulation
# module (emu/) and Pester (Pester/) beside it: published ReadyToRun
# (host/RenewdPsHost.csproj; the first run compiles the SDK's assemblies,
# about 1 to 2 minutes). Incremental: a second run only checks.
# contrib/tests-deps.sh runs it once; the tests run it again.
#   bash tests/windows/build.sh        prints the host's path
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/bin/host
command -v dotnet >/dev/null || { echo "tests/windows/build.sh: dotnet is missing (the .NET SDK)" >&2; exit 2; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
if ! dotnet publish "$here/host/RenewdPsHost.csproj" -c Release -o "$out" --nologo -v q \
	-clp:NoSummary >"$here/bin.log" 2>&1; then
	cat "$here/bin.log" >&2
	echo "tests/windows/build.sh: the build failed" >&2
	exit 1
fi
rm -f "$here/bin.log"
# the emulated crypt32.dll (host/crypt32_emu.c), under the name .NET tries
# for DllImport("crypt32.dll") off Windows
if [ ! -f "$out/libcrypt32.dll.so" ] || [ "$here/host/crypt32_emu.c" -nt "$out/libcrypt32.dll.so" ]; then
	cc -std=c11 -Wall -Wextra -Werror -O2 -shared -fPIC -Wl,-soname,libcrypt32.dll.so -o "$out/libcrypt32.dll.so" "$here/host/crypt32_emu.c" -ldl
fi
echo "$out/renewd-pshost"
