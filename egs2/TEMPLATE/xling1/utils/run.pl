#!/usr/bin/env perl
# Local job runner with the calling convention of Kaldi/ESPnet's run.pl, so cmd.sh can switch
# between it and a cluster runner (slurm.pl, queue.pl) without touching the recipe:
#
#   run.pl [--gpu N] [--mem M] [--num_threads N] [--max-jobs-run N] [JOB=1:4] log/x.JOB.log cmd ...
#
# Resource options are accepted and ignored (this machine runs what it is given). With JOB=a:b
# every job runs in parallel (at most --max-jobs-run at a time) and "JOB" in the log name and
# command is replaced by the job number. Each log gets the command, start/end time and exit
# code. Exit status: 0 if all jobs succeed, else 1 and the failing logs are named.
use strict;
use warnings;
use POSIX qw(strftime);

my $max_jobs = 0;
my ($jobvar, $first, $last) = (undef, 1, 1);
while (@ARGV && $ARGV[0] =~ /^--/) {
  my $opt = shift @ARGV;
  my $val = shift @ARGV;
  die "run.pl: option $opt needs a value\n" unless defined $val;
  $max_jobs = $val if $opt eq "--max-jobs-run";
}
if (@ARGV && $ARGV[0] =~ /^([\w_][\w\d_]*)=(\d+):(\d+)$/) {
  ($jobvar, $first, $last) = ($1, $2, $3);
  shift @ARGV;
  die "run.pl: empty job range $first:$last\n" if $last < $first;
} elsif (@ARGV && $ARGV[0] =~ /^([\w_][\w\d_]*)=(\d+)$/) {
  ($jobvar, $first, $last) = ($1, $2, $2);
  shift @ARGV;
}
die "usage: run.pl [options] [JOB=1:N] <log-file> <command...>\n" if @ARGV < 2;
my $logfile = shift @ARGV;
# Quote arguments that the shell would split, as the original run.pl does.
my $cmd = join(" ", map { /^[\w\/\.\-=:,+@%]+$/ ? $_ : "'" . s/'/'\\''/gr . "'" } @ARGV);

my %running;
my @failed;
sub reap {
  my $pid = wait();
  return if $pid < 0;
  my $status = $?;
  my $job = delete $running{$pid};
  push @failed, $job if $status != 0;
}
for my $j ($first .. $last) {
  reap() while $max_jobs > 0 && scalar(keys %running) >= $max_jobs;
  my ($log, $c) = ($logfile, $cmd);
  if (defined $jobvar) {
    $log =~ s/\b$jobvar\b/$j/g;
    $c =~ s/\b$jobvar\b/$j/g;
  }
  my $dir = $log;
  if ($dir =~ s{/[^/]*$}{} && $dir ne "") { system("mkdir", "-p", $dir) == 0 or die "run.pl: cannot create $dir\n"; }
  my $pid = fork();
  die "run.pl: fork failed\n" unless defined $pid;
  if ($pid == 0) {
    open(my $fh, ">", $log) or die "run.pl: cannot write $log: $!\n";
    print $fh "# $c\n# Started at " . strftime("%c", localtime) . "\n#\n";
    close($fh);
    my $t0 = time();
    my $rc = system("bash", "-c", "( $c ) >>'$log' 2>&1");
    my $code = $rc == -1 ? 255 : ($rc & 127 ? 128 + ($rc & 127) : $rc >> 8);
    open($fh, ">>", $log) or die "run.pl: cannot append $log: $!\n";
    print $fh "# Accounting: time=" . (time() - $t0) . " threads=1\n";
    print $fh "# Ended (code $code) at " . strftime("%c", localtime) . ", elapsed time " . (time() - $t0) . " seconds\n";
    close($fh);
    exit($code == 0 ? 0 : 1);
  }
  $running{$pid} = $j;
}
reap() while %running;
if (@failed) {
  my @logs = map { my $l = $logfile; $l =~ s/\b$jobvar\b/$_/g if defined $jobvar; $l } sort { $a <=> $b } @failed;
  print STDERR "run.pl: " . scalar(@failed) . " / " . ($last - $first + 1) . " failed, log is in @logs\n";
  exit 1;
}
exit 0;
