# Iis.ps1 — part of RenewdWindows.psm1 (dot-sourced): IIS sites, their
# bindings and HTTP.sys's SSL certificate bindings, as windows.iis_binding
# (plugins/windows/ps/iis_lib.ps1, iis_read.ps1, iis_set.ps1) meets them,
# and the https endpoint they make: a real TLS listener (listener.sh).
#
# The WebAdministration module
# (https://learn.microsoft.com/powershell/module/webadministration/):
# - Get-Website -Name gives the site, nothing when there is none
#   (https://learn.microsoft.com/powershell/module/webadministration/get-website);
# - Get-WebBinding -Name -Protocol -Port [-HostHeader] gives the site's
#   bindings that match, each with protocol, bindingInformation
#   ("<ip|*>:<port>:<host header>"), sslFlags (bit 0: SNI), and
#   certificateHash / certificateStoreName, which IIS reads from HTTP.sys's
#   SSL binding of the same endpoint ('' when there is none)
#   (https://learn.microsoft.com/powershell/module/webadministration/get-webbinding,
#   https://learn.microsoft.com/iis/configuration/system.applicationhost/sites/site/bindings/binding);
# - binding.AddSslCertificate(thumbprint, storeName) adds the SSL binding
#   of the endpoint, as `netsh http add sslcert ipport=0.0.0.0:443
#   certhash=... certstorename=My` does: it fails when the endpoint has one
#   already ("Cannot create a file when that file already exists",
#   0x800700B7) and when the certificate or its private key is not in the
#   store (0x80070520, "A specified logon session does not exist");
#   RemoveSslCertificate() deletes it
#   (https://learn.microsoft.com/windows-server/networking/technologies/netsh/netsh-http).
# HTTP.sys applies an SSL binding to the next handshake: no iisreset
# (HttpSetServiceConfiguration,
# https://learn.microsoft.com/windows/win32/api/http/nf-http-httpsetserviceconfiguration).
#
# Backed by files under RENEWD_WIN_ROOT/emu/iis:
#   sites/<site>.json   {"id": 1, "bindings": [{"protocol": "https",
#                       "bindingInformation": "*:443:", "sslFlags": 0}]}
#                       (site names compare without case, as IIS's do)
#   sslbindings.json    {"0.0.0.0!443": {"certificateHash": "<THUMB>",
#                       "certificateStoreName": "My"}}, keyed as
#                       IIS:\SslBindings names them: "<ip>!<port>", or
#                       "!<port>!<host>" for an SNI binding
# Served: an ip:port SSL binding's certificate, with its key file, by
# listener.sh on the machine's address (RENEWD_WIN_ADDR) and the port,
# restarted at every change of the binding (listener "https-<port>"). A
# test fault, not Windows: while emu/iis/stale exists the endpoint keeps
# serving what it served (a load balancer or a second node in front).

function Get-RenewdIisSiteFile([string]$Name) {
  $d = [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'iis', 'sites')
  if (-not [System.IO.Directory]::Exists($d) -or $Name -match '[\\/]') { return $null }
  foreach ($f in [System.IO.Directory]::GetFiles($d, '*.json')) {
    if ([string]::Equals([System.IO.Path]::GetFileNameWithoutExtension($f), $Name, [System.StringComparison]::OrdinalIgnoreCase)) { return $f }
  }
  return $null
}

function Get-RenewdSslBindingsFile() { return [System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'iis', 'sslbindings.json') }

function Read-RenewdSslBindings() {
  $h = [ordered]@{}
  $f = Get-RenewdSslBindingsFile
  if ([System.IO.File]::Exists($f)) {
    foreach ($p in ([System.IO.File]::ReadAllText($f) | ConvertFrom-Json).PSObject.Properties) { $h[$p.Name] = $p.Value }
  }
  return $h
}

function Write-RenewdSslBindings($Bindings) {
  [System.IO.File]::WriteAllText((Get-RenewdSslBindingsFile), (ConvertTo-Json -InputObject $Bindings -Depth 3))
}

# The IIS:\SslBindings name of a binding's endpoint
function Get-RenewdSslKey([string]$Info, [int]$SslFlags) {
  $p = $Info.Split(':')
  if ($SslFlags -band 1) { return '!' + $p[1] + '!' + $p[2] }
  return $(if ($p[0] -eq '*' -or $p[0] -eq '') { '0.0.0.0' } else { $p[0] }) + '!' + $p[1]
}

# The endpoint KEY serves its SSL binding's certificate, or nothing
function Update-RenewdHttpSys([string]$Key) {
  if ([System.IO.File]::Exists([System.IO.Path]::Combine($env:RENEWD_WIN_ROOT, 'emu', 'iis', 'stale'))) { return }
  if ($Key -notmatch '^[0-9.]+!([0-9]+)\z') { return }
  $ssl = (Read-RenewdSslBindings)[$Key]
  if (-not $ssl) { Invoke-RenewdListener stop ('https-' + $Matches[1]); return }
  $store = 'Cert:\LocalMachine\' + [string]$ssl.certificateStoreName + '\' + [string]$ssl.certificateHash
  Start-RenewdTlsListener ('https-' + $Matches[1]) ([int]$Matches[1]) $store
}

# listener.sh ARGS...; throws its message when it fails
function Invoke-RenewdListener() {
  $out = & /bin/sh ([System.IO.Path]::Combine($PSScriptRoot, 'listener.sh')) @args 2>&1
  if ($LASTEXITCODE -ne 0) { throw ((@($out) | ForEach-Object { [string]$_ }) -join "`n") }
}

# Listener NAME serves, on the machine's address and PORT, the certificate
# at the Cert: path STORE with its key file
function Start-RenewdTlsListener([string]$Name, [int]$Port, [string]$Store) {
  if (-not $env:RENEWD_WIN_ADDR) { throw 'renewd emulator: RENEWD_WIN_ADDR (the machine''s address) is not set' }
  $s = Get-RenewdCertStoreDir $Store
  $kp = [System.IO.Path]::Combine($s.Dir, $s.Thumb + '.keyprov')
  $kf = Get-RenewdKeyFilePath (Read-RenewdKeyProv $kp).KeyFile
  Invoke-RenewdListener start $Name $env:RENEWD_WIN_ADDR $Port ([System.IO.Path]::Combine($s.Dir, $s.Thumb + '.cer')) $kf
}

function New-RenewdWebBinding($B) {
  $key = Get-RenewdSslKey ([string]$B.bindingInformation) ([int]$B.sslFlags)
  $ssl = (Read-RenewdSslBindings)[$key]
  $o = [pscustomobject]@{ protocol = [string]$B.protocol; bindingInformation = [string]$B.bindingInformation; sslFlags = [int]$B.sslFlags
    certificateHash = $(if ($ssl) { [string]$ssl.certificateHash } else { '' })
    certificateStoreName = $(if ($ssl) { [string]$ssl.certificateStoreName } else { '' }) }
  $o | Add-Member ScriptMethod AddSslCertificate {
    param([string]$Thumb, [string]$StoreName)
    $key = Get-RenewdSslKey $this.bindingInformation $this.sslFlags
    $all = Read-RenewdSslBindings
    if ($all.Contains($key)) { throw 'Cannot create a file when that file already exists. (Exception from HRESULT: 0x800700B7)' }
    $s = Get-RenewdCertStoreDir ('Cert:\LocalMachine\' + $StoreName + '\' + $Thumb)
    if (-not $s -or -not $s.Thumb -or -not [System.IO.File]::Exists([System.IO.Path]::Combine($s.Dir, $s.Thumb + '.cer')) -or
      -not (Get-RenewdEmuCert $s.Dir $s.Thumb).HasPrivateKey) {
      throw 'A specified logon session does not exist. It may already have been terminated. (Exception from HRESULT: 0x80070520)'
    }
    $all[$key] = [ordered]@{ certificateHash = $s.Thumb; certificateStoreName = $StoreName }
    Write-RenewdSslBindings $all
    $this.certificateHash = $s.Thumb
    $this.certificateStoreName = $StoreName
    Update-RenewdHttpSys $key
  }
  $o | Add-Member ScriptMethod RemoveSslCertificate {
    $key = Get-RenewdSslKey $this.bindingInformation $this.sslFlags
    $all = Read-RenewdSslBindings
    if (-not $all.Contains($key)) { throw 'The system cannot find the file specified. (Exception from HRESULT: 0x80070002)' }
    $all.Remove($key)
    Write-RenewdSslBindings $all
    $this.certificateHash = ''
    $this.certificateStoreName = ''
    Update-RenewdHttpSys $key
  }
  return $o
}

function Get-Website {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string]$Name)
  $f = Get-RenewdIisSiteFile $Name
  if (-not $f) { return }
  $s = [System.IO.File]::ReadAllText($f) | ConvertFrom-Json
  [pscustomobject]@{ name = [System.IO.Path]::GetFileNameWithoutExtension($f); id = [long]$s.id }
}

function Get-WebBinding {
  [CmdletBinding()]
  param([Parameter(Position = 0)][string]$Name, [string]$Protocol, [int]$Port, [string]$IPAddress, [string]$HostHeader)
  $f = Get-RenewdIisSiteFile $Name
  if (-not $f) { return }
  foreach ($b in @(([System.IO.File]::ReadAllText($f) | ConvertFrom-Json).bindings)) {
    $p = ([string]$b.bindingInformation).Split(':')
    if ($Protocol -and $b.protocol -ne $Protocol) { continue }
    if ($PSBoundParameters.ContainsKey('Port') -and $p[1] -ne [string]$Port) { continue }
    if ($IPAddress -and $p[0] -ne $IPAddress) { continue }
    if ($PSBoundParameters.ContainsKey('HostHeader') -and $p[2] -ne $HostHeader) { continue }
    New-RenewdWebBinding $b
  }
}

if ($env:RENEWD_WIN_ROOT) { Export-ModuleMember -Function Get-Website, Get-WebBinding }
