# doctor.ps1 — windows.doctor (read-only): what `renewd doctor` must know
# about a Windows target before a renewal. Reports facts only; what passes
# and what to fix is decided in C (plugins/windows/doctor.c). Outcomes come
# from exit codes, types and states, never from localised text (the text
# travels as a hint only).
# $P: {config ("host\CA name", or "": MSCEP\CAInfo's, if any), services:
# [names], sites: [IIS site names], pools: [IIS application pool names]}.
# Out: {ps_version, ps_edition, clr_version, net_release, admin, user,
# certreq, certutil, schedule: {service, ok, error}, eventlog: {ok, error},
# config, config_source, ping: {exit, text} | null, services: [{name,
# exists, status}], webadmin, sites: [{name, exists}], pools: [{name,
# exists, identity}]}.

# A name from $P (service, site or pool): printable, no quotes or
# wildcards (Get-Service and IIS:\ treat * ? [ ] as patterns).
function rdw_doctor_name([string]$Value, [string]$What) {
  if ($Value -notmatch '^[^\x00-\x1f"*?\[\]]{1,256}\z') { rd_fail "$What name '$Value' is not valid" }
  return $Value
}

# Does this process hold an administrator token (elevated)?
function rdw_doctor_admin {
  $id = [System.Security.Principal.WindowsIdentity]::GetCurrent()
  return (New-Object System.Security.Principal.WindowsPrincipal $id).IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)
}

# A value under HKLM:\ or $null (no key, no value).
function rdw_doctor_reg([string]$Path, [string]$Name) {
  try { return (Get-ItemProperty -LiteralPath $Path -Name $Name -ErrorAction Stop).$Name } catch { return $null }
}

function rdw_doctor_tool([string]$Name) {
  $c = Get-Command $Name -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
  if ($null -eq $c) { return '' }
  return [string]$c.Source
}

$config = [string]$P.config
if ($config -ne '' -and $config -notmatch '^[^\\"\x00-\x1f]+\\[^\\"\x00-\x1f]+\z') { rd_fail "CA configuration '$config' is not <CA host>\<CA name>" }
$res = [ordered]@{
  ps_version = [string]$PSVersionTable.PSVersion; ps_edition = 'Desktop'
  clr_version = [string][Environment]::Version
  net_release = $null; admin = $false; user = [Environment]::UserName
  certreq = (rdw_doctor_tool 'certreq.exe'); certutil = (rdw_doctor_tool 'certutil.exe')
  schedule = [ordered]@{ service = ''; ok = $false; error = $null }
  eventlog = [ordered]@{ ok = $false; error = $null }
  config = $config; config_source = 'runbook'; ping = $null
  services = @(); webadmin = $false; sites = @(); pools = @()
}
if ($PSVersionTable.ContainsKey('PSEdition')) { $res.ps_edition = [string]$PSVersionTable.PSEdition }
$rel = rdw_doctor_reg 'HKLM:\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full' 'Release'
if ($null -ne $rel) { $res.net_release = [long]$rel }
try { $res.admin = [bool](rdw_doctor_admin) } catch { $res.admin = $false }

# adcs.issue submits as SYSTEM through a scheduled task (ScheduledTasks module)
$sch = Get-Service -Name 'Schedule' -ErrorAction SilentlyContinue
if ($null -ne $sch) { $res.schedule.service = [string]$sch.Status }
try {
  $null = @(Get-ScheduledTask -TaskPath '\' -ErrorAction Stop)
  $res.schedule.ok = $true
} catch { $res.schedule.error = [string]$_.Exception.Message }

# the event checks read it with -FilterHashtable (event_query.ps1); an
# empty log is readable (ObjectNotFound: no matching events), denied is not
$log = $null
try { $log = Get-WinEvent -ListLog 'Application' -ErrorAction Stop } catch { $res.eventlog.error = [string]$_.Exception.Message }
if ($null -ne $log) {
  try {
    $null = @(Get-WinEvent -FilterHashtable @{ LogName = 'Application' } -MaxEvents 1 -ErrorAction Stop)
    $res.eventlog.ok = $true
  } catch {
    if ([string]$_.CategoryInfo.Category -eq 'ObjectNotFound') { $res.eventlog.ok = $true }
    else { $res.eventlog.error = [string]$_.Exception.Message }
  }
}

if ($config -eq '') {
  $ci = rdw_doctor_reg 'HKLM:\SOFTWARE\Microsoft\Cryptography\MSCEP\CAInfo' 'Configuration'
  if ($null -ne $ci -and [string]$ci -match '^[^\\"\x00-\x1f]+\\[^\\"\x00-\x1f]+\z') { $config = [string]$ci; $res.config = $config; $res.config_source = 'cainfo' }
  else { $res.config_source = '' }
}
if ($config -ne '' -and $res.certutil -ne '') {
  # certutil's exit code is the HRESULT (0: the CA's request interface answered)
  $r = rdw_native $res.certutil @('-config', $config, '-ping')
  $res.ping = [ordered]@{ exit = [long]$r.exit; text = ([string]$r.text).Trim() }
}

foreach ($n in @($P.services)) {
  if ($null -eq $n) { continue }
  $name = rdw_doctor_name ([string]$n) 'service'
  $s = Get-Service -Name $name -ErrorAction SilentlyContinue
  $e = [ordered]@{ name = $name; exists = ($null -ne $s); status = '' }
  if ($null -ne $s) { $e.status = [string]$s.Status }
  $res.services += $e
}
$sites = @($P.sites | Where-Object { $null -ne $_ })
$pools = @($P.pools | Where-Object { $null -ne $_ })
if ($sites.Count -or $pools.Count) {
  try { Import-Module WebAdministration -ErrorAction Stop; $res.webadmin = $true } catch { $res.webadmin = $false }
}
foreach ($n in $sites) {
  $name = rdw_doctor_name ([string]$n) 'IIS site'
  $res.sites += [ordered]@{ name = $name; exists = ($res.webadmin -and (Test-Path -LiteralPath ('IIS:\Sites\' + $name))) }
}
foreach ($n in $pools) {
  $name = rdw_doctor_name ([string]$n) 'application pool'
  $e = [ordered]@{ name = $name; exists = $false; identity = '' }
  if ($res.webadmin) {
    $pm = $null
    try { $pm = Get-ItemProperty -LiteralPath ('IIS:\AppPools\' + $name) -Name processModel -ErrorAction Stop } catch { $pm = $null }
    if ($null -ne $pm) {
      $e.exists = $true
      $e.identity = [string]$pm.identityType
      if ($e.identity -eq 'SpecificUser') { $e.identity = [string]$pm.userName }
    }
  }
  $res.pools += $e
}
rd_out $res
