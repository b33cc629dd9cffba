# task_inner.ps1 — what the one-off scheduled task runs as SYSTEM (the
# machine account has the network credentials an SSH key logon lacks).
# adcs_task.ps1 writes it as task.ps1 next to task.json, which holds its
# arguments. It records `started` first, runs certreq -submit / -retrieve
# (always with -config) or, to discover the CA, reads NDES's MSCEP\CAInfo,
# the enrollment services in AD (CN=Enrollment Services,CN=Public Key
# Services,CN=Services,<configuration NC>: dNSHostName\cn each; the machine
# account may read them) and runs certutil -dump, and writes {exit, text,
# cer, error, cainfo, ad, ad_error} to the out file atomically (temp + move).
$ErrorActionPreference = 'Stop'
$a = [System.IO.File]::ReadAllText((Join-Path $PSScriptRoot 'task.json')) | ConvertFrom-Json
$r = [ordered]@{ exit = $null; text = ''; cer = $null; error = $null; cainfo = $null; ad = @(); ad_error = $null }
try {
  [System.IO.File]::WriteAllText($a.started, 'started')
  if ($a.action -eq 'submit') {
    $exe = 'certreq.exe'
    $argv = @('-submit', '-q', '-f', '-config', $a.config, $a.req, $a.cer)
  } elseif ($a.action -eq 'retrieve') {
    $exe = 'certreq.exe'
    $argv = @('-retrieve', '-q', '-f', '-config', $a.config, $a.request_id, $a.cer)
    Remove-Item -LiteralPath $a.cer -Force -ErrorAction SilentlyContinue
  } else {
    $exe = 'certutil.exe'
    $argv = @('-dump')
    $ci = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Cryptography\MSCEP\CAInfo' -Name Configuration -ErrorAction SilentlyContinue
    if ($ci) { $r.cainfo = [string]$ci.Configuration }
    try {
      $nc = [string]([ADSI]'LDAP://RootDSE').configurationNamingContext
      $es = [ADSI]('LDAP://CN=Enrollment Services,CN=Public Key Services,CN=Services,' + $nc)
      $r.ad = @(foreach ($ca in $es.Children) { [string]$ca.dNSHostName + '\' + [string]$ca.cn })
    } catch { $r.ad_error = $_.Exception.Message }
  }
  $ErrorActionPreference = 'Continue'
  $lines = & $exe @argv 2>&1 | ForEach-Object { [string]$_ }
  $r.exit = $LASTEXITCODE
  $ErrorActionPreference = 'Stop'
  $r.text = $lines -join "`r`n"
  if ($a.action -ne 'dump' -and (Test-Path -LiteralPath $a.cer)) {
    $r.cer = [System.Convert]::ToBase64String([System.IO.File]::ReadAllBytes($a.cer))
  }
} catch {
  $r.error = $_.Exception.Message
}
$tmp = $a.out + '.tmp'
[System.IO.File]::WriteAllText($tmp, (ConvertTo-Json -InputObject $r -Compress), (New-Object System.Text.UTF8Encoding $false))
Move-Item -LiteralPath $tmp -Destination $a.out -Force
