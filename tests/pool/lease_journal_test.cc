// The etcd store's lease journal bookkeeping (pool/coordinator/lease_journal.h):
// which entries a fold covers and which per-lease keys it writes, so that
// the state read back (each lease's last change in the journal, else its
// own key) is the same before and after every fold.
#include "pool/coordinator/lease_journal.h"

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace accel::pool {
namespace {

namespace state = ::accelpool::state::v1;
using Clock = LeaseJournal::Clock;

// A journal entry: each lease granted (with `holder`), or released ("-").
state::JournalEntry Entry(const std::vector<std::pair<std::string, std::string>>& changes) {
  state::JournalEntry entry;
  for (const auto& [id, holder] : changes) {
    state::LeaseChange* change = entry.add_changes();
    change->set_lease_id(id);
    if (holder != "-") {
      change->mutable_lease()->mutable_info()->set_lease_id(id);
      change->mutable_lease()->mutable_info()->set_holder(holder);
    }
  }
  return entry;
}

// The fold's writes: lease → holder, or "-" for a delete.
std::map<std::string, std::string> Writes(const LeaseJournal::Fold& fold) {
  std::map<std::string, std::string> writes;
  for (const auto& [id, lease] : fold.writes) writes[id] = lease ? lease->info().holder() : "-";
  return writes;
}

TEST(LeaseJournalTest, ALeaseReleasedBeforeItIsFoldedNeverGetsAKey) {
  LeaseJournal journal;
  const Clock::time_point t0 = Clock::now();
  journal.Committed("j/1", Entry({{"a", "alice"}, {"b", "bob"}}), t0);
  journal.Committed("j/2", Entry({{"a", "-"}, {"c", "carol"}}), t0);
  journal.Committed("j/3", Entry({{"b", "-"}}), t0);
  const LeaseJournal::Fold fold = journal.Next(t0, 127);
  EXPECT_EQ(Writes(fold), (std::map<std::string, std::string>{{"c", "carol"}}));
  EXPECT_EQ(fold.through, "j/3");
  journal.Folded(fold);
  EXPECT_EQ(journal.entries(), 0u);
  EXPECT_EQ(journal.folded(), std::set<std::string>{"c"});
  EXPECT_FALSE(journal.oldest().has_value());

  // Released once it has a key: the key is deleted.
  journal.Committed("j/4", Entry({{"c", "-"}}), t0);
  const LeaseJournal::Fold released = journal.Next(t0, 127);
  EXPECT_EQ(Writes(released), (std::map<std::string, std::string>{{"c", "-"}}));
  journal.Folded(released);
  EXPECT_TRUE(journal.folded().empty());
}

TEST(LeaseJournalTest, OnlyEntriesOldEnoughFoldAndAnEntryGoesOnceItsLeasesAreNamedLater) {
  LeaseJournal journal;
  const Clock::time_point t0 = Clock::now();
  const Clock::time_point t1 = t0 + std::chrono::seconds(5);
  journal.Committed("j/1", Entry({{"a", "alice"}, {"b", "bob"}}), t0);
  journal.Committed("j/2", Entry({{"a", "alice-2"}}), t1);
  EXPECT_EQ(journal.oldest(), t0);
  // By t0 only the first entry is due; "a" changes again in the second, so
  // folding the first writes only "b" (the state read is still j/2's "a").
  const LeaseJournal::Fold first = journal.Next(t0, 127);
  EXPECT_EQ(Writes(first), (std::map<std::string, std::string>{{"b", "bob"}}));
  EXPECT_EQ(first.through, "j/1");
  journal.Folded(first);
  EXPECT_EQ(journal.entries(), 1u);
  EXPECT_EQ(journal.oldest(), t1);
  EXPECT_TRUE(journal.Next(t0, 127).empty());
  const LeaseJournal::Fold second = journal.Next(t1, 127);
  EXPECT_EQ(Writes(second), (std::map<std::string, std::string>{{"a", "alice-2"}}));
  journal.Folded(second);
  EXPECT_EQ(journal.folded(), (std::set<std::string>{"a", "b"}));
}

TEST(LeaseJournalTest, AFoldTakesWholeEntriesUpToItsWritesAndTheRestFollow) {
  LeaseJournal journal;
  const Clock::time_point t0 = Clock::now();
  journal.Committed("j/1", Entry({{"a", "1"}, {"b", "1"}}), t0);
  journal.Committed("j/2", Entry({{"c", "1"}, {"d", "1"}}), t0);
  journal.Committed("j/3", Entry({{"e", "1"}}), t0);
  const LeaseJournal::Fold fold = journal.Next(t0, 3);
  EXPECT_EQ(Writes(fold).size(), 2u);  // j/2 would make 4
  EXPECT_EQ(fold.through, "j/1");
  journal.Folded(fold);
  const LeaseJournal::Fold rest = journal.Next(t0, 3);
  EXPECT_EQ(Writes(rest).size(), 3u);
  EXPECT_EQ(rest.through, "j/3");
  journal.Folded(rest);
  EXPECT_EQ(journal.entries(), 0u);
  EXPECT_EQ(journal.folded().size(), 5u);
}

// A new leader starts from what etcd holds: its predecessor's unfolded
// entries fold like its own, and releasing a lease that has a key deletes it.
TEST(LeaseJournalTest, ResetTakesTheKeysAndEntriesEtcdHolds) {
  LeaseJournal journal;
  const Clock::time_point t0 = Clock::now();
  journal.Committed("j/9", Entry({{"stale", "x"}}), t0);
  journal.Reset({"a", "b"}, {{"j/1", Entry({{"a", "-"}, {"c", "carol"}})}}, t0);
  EXPECT_EQ(journal.entries(), 1u);
  const LeaseJournal::Fold fold = journal.Next(t0, 127);
  EXPECT_EQ(Writes(fold), (std::map<std::string, std::string>{{"a", "-"}, {"c", "carol"}}));
  journal.Folded(fold);
  EXPECT_EQ(journal.folded(), (std::set<std::string>{"b", "c"}));
}

}  // namespace
}  // namespace accel::pool
