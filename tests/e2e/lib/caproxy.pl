# tests/e2e/lib/caproxy.pl — a misbehaving proxy in front of the lab's SCEP
# CA, for the CA fault tests (perl-base only; not a test itself).
#   perl caproxy.pl LISTEN UPSTREAM MODEFILE PIDFILE
# GET requests (GetCACaps, GetCACert) always pass. For each POST (the
# PKIOperation) the first line of MODEFILE, read then, says what happens:
#   pass      forward it, return the CA's answer
#   503       answer "503 Service Unavailable" without contacting the CA
#   slow:S    forward it, return the CA's answer S seconds later
#   drop      forward it, read the CA's answer, close the connection without
#             a byte (the CA issued; the reply is lost)
#   hold      forward it, write the CA's answer to MODEFILE.held and keep the
#             connection open without a byte until the client is gone
# Each POST appends "MODE" to MODEFILE.log. The proxy is its own process
# group: kill -- -PID stops it with its children.
use strict; use warnings; use IO::Socket::INET;
my ($listen, $upstream, $modefile, $pidfile) = @ARGV;
setpgrp(0, 0);
my $srv = IO::Socket::INET->new(LocalAddr => $listen, Listen => 16, ReuseAddr => 1) or die "listen $listen: $!";
open(my $pf, '>', $pidfile) or die "$pidfile: $!"; print $pf "$$\n"; close $pf;
$SIG{CHLD} = 'IGNORE';
while (1) {
	my $c = $srv->accept or next;
	if (fork) { close $c; next }
	my $req = '';
	while ($req !~ /\r\n\r\n/) { sysread($c, $req, 65536, length $req) or exit 0 }
	my ($head, $body) = split /\r\n\r\n/, $req, 2;
	my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
	while (length($body) < ($len // 0)) { sysread($c, $body, 65536, length $body) or exit 0 }
	$head =~ s/\r\nConnection:[^\r]*//gi;
	my $mode = 'pass';
	if ($head =~ /^POST /) {
		if (open(my $m, '<', $modefile)) { $mode = <$m> // 'pass'; chomp $mode; close $m }
		if (open(my $l, '>>', "$modefile.log")) { print $l "$mode\n"; close $l }
	}
	if ($mode eq '503') {
		print $c "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\ntry later\r\n";
		exit 0;
	}
	my $u = IO::Socket::INET->new(PeerAddr => $upstream) or exit 1;
	print $u "$head\r\nConnection: close\r\n\r\n$body";
	my $rep = '';
	while (sysread($u, $rep, 65536, length $rep)) { }
	exit 0 if $mode eq 'drop';
	if ($mode eq 'hold') {
		open(my $h, '>', "$modefile.held") or die; print $h $rep; close $h;
		sysread($c, my $x, 1);
		exit 0;
	}
	sleep $1 if $mode =~ /^slow:(\d+)$/;
	print $c $rep;
	exit 0;
}
