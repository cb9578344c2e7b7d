// Intra-op threads that fit beside what other processes use now. LibTorch's threads meet at the
// end of every parallel region, so where another process wants a core, a descheduled thread
// stalls its siblings: on 2 cores beside one busy 2-thread process, training with 2 threads ran
// at 0.30-0.36 of its speed alone, with 1 thread at 0.47. A CpuShare looks, every few seconds,
// at how much CPU the rest of the machine used since its last look (/proc/stat less this
// process's own time) and answers with the threads for the cores left. Its first look comes as
// soon as a quarter of a second has passed since it was made, so that a run started beside a
// busy process does not spend its first steps (the slowest, at 0.3) waiting for it.
#pragma once

#include <chrono>
#include <cstdint>

namespace infini {

// The `cores` of the machine less those that `others_busy` cores' worth of other work keeps (from
// 0.7 of a core on it counts as a whole one), at most `most` (this process's share, which other
// ranks of its own job may make less than the cores), at least 1.
int threads_beside(int most, int cores, double others_busy);

// From how many cores' worth of other work on it a process counts the machine as busy.
constexpr double kBusyCores = 0.7;

// The cores other processes keep busy over the next `span` (the calling thread sleeps through it).
double others_busy_over(std::chrono::milliseconds span);

// Whether libgomp's waiting threads sleep at once (OMP_WAIT_POLICY=passive) rather than spin:
// then a thread descheduled for another process leaves its siblings asleep, not spinning on the
// core it needs, and keeping every thread beats dropping to the cores left (on 2 cores beside a
// busy 2-thread process, 2026-12-02: 2 passive threads kept 0.50-0.52 of the speed alone in three
// runs, 1 spinning thread 0.36-0.39; bench/compare_wait_policy.sh). A CpuShare is then not needed.
bool waits_passively();

// Whether this process spins because `infini` chose so at its start (main sets GOMP_SPINCOUNT and
// INFINI_CHOSE_SPINCOUNT=1 where the user set no wait policy and the machine was idle). libgomp
// reads its wait policy once, when it is loaded, so such a run that finds other processes busy
// later can wait passively only from its next start: the trainer then stops with a checkpoint and
// `infini train` restarts from it (a user's own choice is kept).
bool spin_count_chosen_at_start();
// Makes the environment of the next start wait passively: OMP_WAIT_POLICY=passive, the spin count
// chosen at start unset.
void wait_passively_from_next_start();

class CpuShare {
 public:
  // `most`: the threads this process may use; `cores`: the machine's; `interval`: the least time
  // between two looks.
  CpuShare(int most, int cores, std::chrono::duration<double> interval = std::chrono::seconds(5));
  // The threads to use now; the last answer until `interval` has passed since the last look (the
  // first look: `first_look`, or `interval` if that is shorter, after construction).
  int threads();
  static constexpr std::chrono::milliseconds first_look{250};
  // The cores other processes kept busy over the last look's span (0 before the first).
  double others_busy() const { return others_busy_; }
  // The threads this process may use (the answer when the machine is otherwise idle).
  int most() const { return most_; }

 private:
  struct Sample {
    std::chrono::steady_clock::time_point at;
    int64_t machine_busy = -1;  // clock ticks, all cores
    int64_t own = -1;           // clock ticks of this process
  };
  static Sample sample();

  int most_, cores_, answer_;
  std::chrono::duration<double> interval_;
  Sample last_;
  bool looked_ = false;
  double others_busy_ = 0.0;
};

}  // namespace infini
