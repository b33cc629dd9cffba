# Renewd.ps1 — dot-sourced by every *.Tests.ps1 (BeforeAll): runs the
# scripts exactly as renewd builds them, with the process boundary
# replaced and the Windows boundary mocked by the tests.
#
# $env:RENEWD_PS_BUILT/<name>.ps1 is what renewd sends (remote.c's prelude
# around lib.ps1 and the script; test_windows_plugin case ps_texts writes
# it). The prelude is the process boundary: it reads $P from stdin, writes
# the result with [Console]::Out and ends with `exit 3` in rd_fail. `exit`
# cannot be caught inside one runspace (it would end the whole Pester run),
# so Invoke-RenewdScript runs the text between the prelude's markers — the
# script itself, byte for byte — with $P built as the prelude builds it
# (ConvertFrom-Json of the JSON parameters), rd_out serializing as the
# prelude does (ConvertTo-Json -Compress -Depth 6), and rd_fail throwing
# "rd_fail: <message>". The prelude itself runs for real in
# tests/e2e/windows_pshost.sh (exit 3, stdout, stdin, -File).

$script:RenewdMarkHead = "`n  # ---- script ----`n"
$script:RenewdMarkTail = "`n  # ---- end of script ----`n"

# The text renewd sends for script NAME (e.g. windows.registry.set).
function Get-RenewdBuilt([string]$Name) {
  # .NET only here: the tests mock Join-Path, Test-Path and friends
  $f = [System.IO.Path]::Combine($env:RENEWD_PS_BUILT, $Name + '.ps1')
  if (-not [System.IO.File]::Exists($f)) { throw "no built script $f (run test_windows_plugin case ps_texts)" }
  return [System.IO.File]::ReadAllText($f)
}

# The script part of a built text: between the prelude's markers.
function Get-RenewdBody([string]$Name) {
  $t = Get-RenewdBuilt $Name
  $a = $t.IndexOf($script:RenewdMarkHead)
  $b = $t.LastIndexOf($script:RenewdMarkTail)
  if ($a -lt 0 -or $b -lt $a) { throw "$Name`: the prelude's markers are missing" }
  $a += $script:RenewdMarkHead.Length
  return $t.Substring($a, $b - $a)
}

# Defines the functions of a built script (lib.ps1's rdw_* and the
# script's own) without running its statements, as a script block to
# dot-source: `. (Get-RenewdFunctions windows.registry.read)` in a BeforeAll.
function Get-RenewdFunctions([string]$Name) {
  $ast = [System.Management.Automation.Language.Parser]::ParseInput((Get-RenewdBody $Name), [ref]$null, [ref]$null)
  $defs = $ast.FindAll({ param($n) $n -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $false)
  return [scriptblock]::Create((@($defs | ForEach-Object { $_.Extent.Text }) -join "`n"))
}

# The prelude's rd_out and rd_fail, as the tests replace them.
function rd_out($Value) { $script:RenewdOut = ConvertTo-Json -InputObject $Value -Compress -Depth 6 }
function rd_fail([string]$Message) { throw "rd_fail: $Message" }

# Runs script NAME with parameters PARAMS (a hashtable: what the C side
# puts in the JSON object) under strict mode; returns what it gave rd_out,
# parsed back ($null when it gave nothing). rd_fail throws. With -Sent, the
# parameters are the base64 text renewd writes on stdin, and $P is made
# from it with the prelude's own statement.
function Invoke-RenewdScript([string]$Name, [hashtable]$Params = @{}, [string]$Sent = '') {
  $body = Get-RenewdBody $Name
  if ($Sent) {
    $P = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String($Sent)) | ConvertFrom-Json
  } else {
    $P = ConvertTo-Json -InputObject $Params -Compress -Depth 6 | ConvertFrom-Json
  }
  $script:RenewdOut = $null
  Set-StrictMode -Version Latest
  $ErrorActionPreference = 'Stop'
  $ProgressPreference = 'SilentlyContinue'
  . ([scriptblock]::Create($body))
  if ($null -eq $script:RenewdOut) { return $null }
  return $script:RenewdOut | ConvertFrom-Json
}

# A real X509Certificate2 with its RSA key (what Cert:\ returns on Windows:
# https://learn.microsoft.com/powershell/module/microsoft.powershell.security/about/about_certificate_provider).
function New-RenewdCert([string]$Subject = 'CN=test', [int]$Days = 365, [int]$StartDays = -1) {
  $rsa = [System.Security.Cryptography.RSA]::Create(2048)
  $req = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new($Subject, $rsa,
    [System.Security.Cryptography.HashAlgorithmName]::SHA256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
  $now = [DateTimeOffset]::UtcNow
  return $req.CreateSelfSigned($now.AddDays($StartDays), $now.AddDays($Days))
}

# A registry key as Get-Item returns it for HKLM: (a RegistryKey:
# https://learn.microsoft.com/dotnet/api/microsoft.win32.registrykey):
# GetValueNames(); GetValueKind(name) -> RegistryValueKind; GetValue(name,
# default, options) -> string for REG_SZ, byte[] for REG_BINARY. VALUES:
# name -> string (REG_SZ) or byte[] (REG_BINARY).
function New-RenewdRegKey([hashtable]$Values) {
  $k = [pscustomobject]@{ Values = $Values }
  $k | Add-Member ScriptMethod GetValueNames { return [string[]]@($this.Values.Keys) }
  $k | Add-Member ScriptMethod GetValueKind {
    param([string]$n)
    if ($this.Values[$n] -is [byte[]]) { return [Microsoft.Win32.RegistryValueKind]::Binary }
    return [Microsoft.Win32.RegistryValueKind]::String
  }
  $k | Add-Member ScriptMethod GetValue {
    param([string]$n, $default, $options)
    if ($options -ne 'DoNotExpandEnvironmentNames') { throw "GetValue without DoNotExpandEnvironmentNames" }
    if ($this.Values.ContainsKey($n)) { return , $this.Values[$n] }
    return $default
  }
  return $k
}
