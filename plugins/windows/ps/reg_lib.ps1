# reg_lib.ps1 — registry helpers of windows.registry_thumbprint.
# "HKLM\SOFTWARE\..." (or "HKLM:\...") -> "Registry::HKEY_LOCAL_MACHINE\...".
function rdw_regpath([string]$Key) {
  if ($Key -notmatch '^HKLM:?\\[^\r\n]+\z' -or $Key.Contains('..')) { rd_fail "registry key '$Key' is not HKLM\<path>" }
  return 'Registry::HKEY_LOCAL_MACHINE\' + ($Key -replace '^HKLM:?\\', '')
}
# The value as renewd compares it: REG_SZ text, REG_BINARY uppercase hex.
function rdw_regread([string]$Path, [string]$Name) {
  $r = [ordered]@{ key_exists = $false; exists = $false; kind = $null; text = $null; hex = $null }
  if (-not (Test-Path -LiteralPath $Path)) { return $r }
  $r.key_exists = $true
  $k = Get-Item -LiteralPath $Path
  if ($k.GetValueNames() -notcontains $Name) { return $r }
  $r.exists = $true
  $r.kind = [string]$k.GetValueKind($Name)
  $v = $k.GetValue($Name, $null, 'DoNotExpandEnvironmentNames')
  if ($v -is [byte[]]) { $r.hex = (@($v | ForEach-Object { $_.ToString('X2') }) -join '') }
  else { $r.text = [string]$v }
  return $r
}
