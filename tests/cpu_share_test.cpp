// The trainer's thread count beside other processes (core/cpu_share.h).
#include <gtest/gtest.h>

#include <thread>

#include "core/cpu_share.h"
#include "test_support.h"

using namespace infini;

TEST(CpuShare, ThreadsLeaveTheCoresOthersKeepBusy) {
  EXPECT_EQ(threads_beside(2, 2, 0.0), 2);
  EXPECT_EQ(threads_beside(2, 2, 0.5), 2);  // under 0.7 of a core: not counted
  EXPECT_EQ(threads_beside(2, 2, 0.8), 1);
  EXPECT_EQ(threads_beside(2, 2, 1.0), 1);
  EXPECT_EQ(threads_beside(2, 2, 3.0), 1);  // never below one
  EXPECT_EQ(threads_beside(8, 8, 2.2), 6);
  // Two ranks of one job on four cores, two threads each: each sees the other's two cores busy.
  EXPECT_EQ(threads_beside(2, 4, 2.0), 2);
  EXPECT_EQ(threads_beside(2, 4, 3.0), 1);
  EXPECT_EQ(threads_beside(4, 4, -1.0), 4);
}

TEST(CpuShare, ABusyProcessBesideTakesAThreadAway) {
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  if (cores < 2) GTEST_SKIP() << "one core: nothing to give away";
  CpuShare share(cores, cores, std::chrono::milliseconds(500));
  EXPECT_EQ(share.threads(), cores);  // no look yet
  int threads = 0;
  double others = 0.0;
  {
    test::BusyChild busy;
    ASSERT_GT(busy.pid(), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    threads = share.threads();
    others = share.others_busy();
  }
  // The spinning child alone keeps a core busy (other tests running beside only add to it).
  EXPECT_GE(others, 0.7);
  EXPECT_LT(threads, cores);
}

TEST(CpuShare, TheFirstLookComesSoonThenTheIntervalHolds) {
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  if (cores < 2) GTEST_SKIP() << "one core: nothing to give away";
  CpuShare share(cores, cores, std::chrono::hours(1));
  int threads = 0;
  {
    test::BusyChild busy;
    ASSERT_GT(busy.pid(), 0);
    std::this_thread::sleep_for(CpuShare::first_look + std::chrono::milliseconds(950));
    threads = share.threads();  // the first look: not an hour after construction
  }
  EXPECT_GE(share.others_busy(), kBusyCores);
  EXPECT_LT(threads, cores);
  std::this_thread::sleep_for(CpuShare::first_look + std::chrono::milliseconds(50));
  EXPECT_EQ(share.threads(), threads);  // the next look waits the hour
}

TEST(CpuShare, OthersBusyOverASpanSeesASpinningProcess) {
  test::BusyChild busy;
  ASSERT_GT(busy.pid(), 0);
  EXPECT_GE(others_busy_over(std::chrono::milliseconds(300)), kBusyCores);
}

TEST(CpuShare, WaitsPassivelyReadsTheWaitPolicy) {
  {
    test::ScopedEnvironment policy({std::pair<std::string, std::string>{"OMP_WAIT_POLICY", "PASSIVE"}});
    EXPECT_TRUE(waits_passively());
  }
  {
    test::ScopedEnvironment policy({std::pair<std::string, std::string>{"OMP_WAIT_POLICY", "active"}});
    EXPECT_FALSE(waits_passively());
  }
  EXPECT_FALSE(waits_passively());  // unset
}

TEST(CpuShare, ACommandStartedBesideABusyProcessWaitsPassivelyUnlessThePolicyIsSet) {
  test::BusyChild busy;
  ASSERT_GT(busy.pid(), 0);
  const auto chosen = test::run_infini("train --help");
  EXPECT_EQ(chosen.status, 0) << chosen.output;
  EXPECT_NE(chosen.output.find("threads wait passively"), std::string::npos) << chosen.output;
  test::ScopedEnvironment policy({std::pair<std::string, std::string>{"OMP_WAIT_POLICY", "active"}});
  const auto kept = test::run_infini("train --help");
  EXPECT_EQ(kept.status, 0) << kept.output;
  EXPECT_EQ(kept.output.find("threads wait passively"), std::string::npos) << kept.output;
}
