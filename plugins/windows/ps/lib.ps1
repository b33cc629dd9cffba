# lib.ps1 — helpers every windows.* and adcs.* script starts with (after the
# prelude of orchestrator/remote.c, which gives $P, rd_out and rd_fail).
# Values from $P are data: each is validated here again before use, and
# native programs get them as separate arguments, never as code.

# A 40-digit hex thumbprint, uppercase (Windows' spelling); else rd_fail.
# \z, not $: .NET's $ also matches before a final newline.
function rdw_thumb([string]$Value, [string]$What) {
  if ($Value -notmatch '^[0-9A-Fa-f]{40}\z') { rd_fail "$What '$Value' is not a 40-digit hex thumbprint" }
  return $Value.ToUpperInvariant()
}

# "LocalMachine\My" -> "Cert:\LocalMachine\My".
function rdw_store([string]$Name) {
  if ($Name -notmatch '^LocalMachine\\[A-Za-z0-9 _.-]+\z') { rd_fail "certificate store '$Name' is not LocalMachine\<name>" }
  return 'Cert:\' + $Name
}

# Seconds since 1970 (UTC) of a DateTime.
function rdw_epoch([datetime]$When) {
  $zero = New-Object DateTime 1970, 1, 1, 0, 0, 0, ([DateTimeKind]::Utc)
  return [long][Math]::Floor(($When.ToUniversalTime() - $zero).TotalSeconds)
}

# The certificate with this thumbprint in a Cert:\ store, or $null.
function rdw_find([string]$StorePath, [string]$Thumb) {
  return Get-ChildItem -Path $StorePath | Where-Object { $_.Thumbprint -eq $Thumb } | Select-Object -First 1
}

# The path .NET's own file APIs (System.IO.File, the X509Certificate2
# constructor) are given for a path of this machine: the path itself. They
# do not see PowerShell drives, so the emulated host (tests/windows/emu),
# whose C: is a PowerShell drive, replaces this helper with its mapping.
function rdw_path_of([string]$Path) {
  return $Path
}

# Runs a native program with its arguments as an array (PowerShell quotes
# each one), stderr folded into the text: {exit, text}.
function rdw_native([string]$Exe, [string[]]$ArgList) {
  $ErrorActionPreference = 'Continue'
  $lines = & $Exe @ArgList 2>&1 | ForEach-Object { [string]$_ }
  return [ordered]@{ exit = $LASTEXITCODE; text = ($lines -join "`r`n") }
}

# The SID of an account given by name ("CORP\svc_ndes") or as a SID
# ("S-1-5-18": SYSTEM in any display language, whose name is localised,
# e.g. "NT-AUTORITÄT\SYSTEM"); rd_fail names the account when it cannot be
# resolved on this host.
function rdw_sid([string]$Account) {
  try {
    return rdw_sid_of $Account
  } catch {
    rd_fail "account '$Account' cannot be resolved on this host: $($_.Exception.Message)"
  }
}

# The SecurityIdentifier of an account name or SID string; throws when the
# name cannot be translated. Windows-only .NET types: the emulated host
# (tests/windows/emu) replaces this helper, and every rdw_*_of below.
function rdw_sid_of([string]$Account) {
  if ($Account -match '^S-1-[0-9]+(-[0-9]+)*\z') { return New-Object System.Security.Principal.SecurityIdentifier $Account }
  return (New-Object System.Security.Principal.NTAccount $Account).Translate([System.Security.Principal.SecurityIdentifier])
}
