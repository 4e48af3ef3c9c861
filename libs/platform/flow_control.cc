#include "platform/flow_control.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "platform/log.h"

namespace pbr::platform {
namespace {

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

constexpr absl::Duration kWarnEvery = absl::Seconds(30);
// Partition counts change only when an operator adds partitions.
constexpr absl::Duration kCountsEvery = absl::Seconds(30);

}  // namespace

FlowControl::FlowControl(KafkaSettings settings, std::function<void()> on_read)
    : settings_(std::move(settings)), on_read_(std::move(on_read)) {}

FlowControl::~FlowControl() { Stop(); }

absl::Status FlowControl::Start() {
  if (!enabled() || reader_.joinable()) return absl::OkStatus();
  if (groups_.empty()) {
    for (const std::string& group : settings_.flow_control_groups) {
      auto conf = BaseKafkaConf(settings_);
      if (!conf.ok()) return conf.status();
      // Only reads the group's committed offsets: never subscribes, so it never joins the group.
      for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
               {"group.id", group}, {"enable.auto.commit", "false"}, {"enable.auto.offset.store", "false"}}) {
        if (auto st = SetKafkaProperty(conf->get(), k, v); !st.ok()) return st;
      }
      char err[512];
      rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), err, sizeof err);
      if (rk == nullptr) return absl::InvalidArgumentError(absl::StrCat("flow control client for group ", group, ": ", err));
      conf->release();
      groups_.emplace_back(rk);
    }
  }
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  reader_ = std::thread([this] { ReadLoop(); });
  return absl::OkStatus();
}

void FlowControl::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (reader_.joinable()) reader_.join();
}

void FlowControl::ReadLoop() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, absl::ToChronoNanoseconds(kReadInterval), [this] { return stopping_ || read_now_; });
      if (stopping_) return;
      read_now_ = false;
      if (topics_.empty()) continue;  // nothing sent yet: nothing to bound
    }
    for (auto& g : groups_) rd_kafka_poll(g.get(), 0);
    std::map<std::string, TopicMarks> marks;
    absl::Status st = ReadOffsets(marks);
    {
      std::lock_guard lock(mu_);
      if (st.ok()) {
        if (!read_status_.ok() && warned_at_ != absl::InfinitePast()) {
          PBR_LOG(info) << "flow control: the committed offsets of " << absl::StrJoin(settings_.flow_control_groups, ", ")
                        << " can be read again";
        }
        marks_ = std::move(marks);
        ++generation_;
        warned_at_ = absl::InfinitePast();
      } else if (const absl::Time now = absl::Now(); now - warned_at_ >= kWarnEvery) {
        // Holding back is safe, so this is a warning; it repeats while it lasts.
        PBR_LOG(warn) << "flow control: " << st.message() << "; the outbox holds its events back until it can read them";
        warned_at_ = now;
      }
      read_status_ = st;
    }
    if (on_read_) on_read_();
  }
}

absl::Status FlowControl::PartitionCounts(const std::set<std::string>& topics) {
  const absl::Time now = absl::Now();
  const bool refresh = now - counts_read_at_ >= kCountsEvery;
  rd_kafka_t* rk = groups_.front().get();
  for (const std::string& topic : topics) {
    if (!refresh && partition_counts_.contains(topic)) continue;
    auto count = PartitionCount(rk, topic, std::min(settings_.timeout, absl::Seconds(2)));
    if (!count.ok()) return count.status();
    partition_counts_[topic] = *count;
  }
  if (refresh) counts_read_at_ = now;
  return absl::OkStatus();
}

absl::Status FlowControl::ReadOffsets(std::map<std::string, TopicMarks>& out) {
  std::set<std::string> topics;
  {
    std::lock_guard lock(mu_);
    topics = topics_;
  }
  if (auto st = PartitionCounts(topics); !st.ok()) return st;
  const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(std::min(settings_.timeout, absl::Seconds(2))));
  PartitionList all(rd_kafka_topic_partition_list_new(0));
  for (const std::string& topic : topics) {
    for (int p = 0; p < partition_counts_[topic]; ++p) rd_kafka_topic_partition_list_add(all.get(), topic.c_str(), p);
  }
  // The high watermarks: the offsets "for time" END are the log ends.
  PartitionList ends(rd_kafka_topic_partition_list_copy(all.get()));
  for (int i = 0; i < ends->cnt; ++i) ends->elems[i].offset = RD_KAFKA_OFFSET_END;
  if (rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(groups_.front().get(), ends.get(), timeout_ms);
      e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("cannot read the high watermarks: ", rd_kafka_err2str(e)));
  }
  for (int i = 0; i < ends->cnt; ++i) {
    const auto& p = ends->elems[i];
    if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR || p.offset < 0) {
      return absl::UnavailableError(absl::StrCat("cannot read the high watermark of ", p.topic, " partition ", p.partition,
                                                 ": ", p.err ? rd_kafka_err2str(p.err) : "none returned"));
    }
    TopicMarks& m = out[p.topic];
    m.partitions.resize(partition_counts_[p.topic]);
    m.partitions[p.partition].high = p.offset;
    m.partitions[p.partition].slowest = INT64_MAX;
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string& group = settings_.flow_control_groups[g];
    PartitionList committed(rd_kafka_topic_partition_list_copy(all.get()));
    if (rd_kafka_resp_err_t e = rd_kafka_committed(groups_[g].get(), committed.get(), timeout_ms);
        e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat("cannot read the committed offsets of group ", group, ": ", rd_kafka_err2str(e)));
    }
    std::set<std::string> reads;  // the topics this group reads: as listed, else those it has an offset on
    const auto listed = settings_.flow_control_group_topics.find(group);
    if (listed != settings_.flow_control_group_topics.end()) {
      for (const std::string& t : listed->second) reads.insert(settings_.Topic(t));
    }
    for (int i = 0; i < committed->cnt; ++i) {
      const auto& p = committed->elems[i];
      if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return absl::UnavailableError(absl::StrCat("cannot read the committed offset of group ", group, " on ", p.topic,
                                                   " partition ", p.partition, ": ", rd_kafka_err2str(p.err)));
      }
      if (p.offset >= 0 && listed == settings_.flow_control_group_topics.end()) reads.insert(p.topic);
    }
    for (int i = 0; i < committed->cnt; ++i) {
      const auto& p = committed->elems[i];
      if (!reads.contains(p.topic)) continue;
      TopicMarks& m = out[p.topic];
      m.read = true;
      PartitionMark& mark = m.partitions[p.partition];
      const int64_t at = std::max<int64_t>(0, p.offset);  // reads the topic, not this partition yet: from its start
      if (at < mark.slowest) {
        mark.slowest = at;
        mark.slowest_group = group;
      }
    }
  }
  return absl::OkStatus();
}

bool FlowControl::MaySend(const std::string& topic, int64_t bytes, std::string& why) {
  if (!enabled()) return true;
  std::lock_guard lock(mu_);
  if (!topics_.contains(topic)) {
    topics_.insert(topic);
    read_now_ = true;
    cv_.notify_all();
    why.clear();  // a moment's wait, not a hold
    return false;
  }
  if (!read_status_.ok()) {
    why = absl::StrCat("topic ", topic, ": ", read_status_.message());
    return false;
  }
  auto marks = marks_.find(topic);
  if (marks == marks_.end()) {
    why.clear();  // added since the last read: read again at once
    read_now_ = true;
    cv_.notify_all();
    return false;
  }
  if (pruned_generation_ != generation_) {
    // What every reading group has committed is no longer ahead of anyone.
    pruned_generation_ = generation_;
    for (auto& [name, partitions] : delivered_) {
      auto m = marks_.find(name);
      if (m == marks_.end()) continue;
      for (size_t p = 0; p < partitions.size(); ++p) {
        PartitionRecords& r = partitions[p];
        const int64_t below = !m->second.read || p >= m->second.partitions.size() ? INT64_MAX : m->second.partitions[p].slowest;
        while (!r.records.empty() && r.records.front().offset < below) {
          r.bytes -= r.records.front().bytes;
          r.records.pop_front();
        }
      }
    }
  }
  const TopicMarks& m = marks->second;
  if (!m.read) return true;  // no listed group reads it
  const InFlight& flying = in_flight_[topic];
  const std::vector<PartitionRecords>* recorded = nullptr;
  if (auto d = delivered_.find(topic); d != delivered_.end()) recorded = &d->second;
  for (size_t p = 0; p < m.partitions.size(); ++p) {
    const PartitionMark& mark = m.partitions[p];
    const PartitionRecords* r = recorded != nullptr && p < recorded->size() ? &(*recorded)[p] : nullptr;
    int64_t high = mark.high;
    if (r != nullptr && !r->records.empty()) high = std::max(high, r->records.back().offset + 1);
    const int64_t ahead = std::max<int64_t>(0, high - mark.slowest);
    const int64_t recorded_count = r != nullptr ? static_cast<int64_t>(r->records.size()) : 0;
    // Older than what this relay recorded: as large as the largest seen.
    const int64_t ahead_bytes = (r != nullptr ? r->bytes : 0) +
                                std::max<int64_t>(0, ahead - recorded_count) * std::max(largest_, bytes);
    if (ahead + flying.messages == 0) continue;  // one event always fits
    if (ahead + flying.messages + 1 > settings_.flow_control_max_lag_messages ||
        ahead_bytes + flying.bytes + bytes > settings_.flow_control_max_lag_bytes) {
      why = absl::StrCat("topic ", topic, " partition ", p, ": group ", mark.slowest_group, " has committed offset ",
                         mark.slowest, " of ", high, ", so ", ahead, " messages (about ", ahead_bytes, " bytes) are ahead of it and ",
                         flying.messages, " (", flying.bytes, " bytes) in flight; the limits are ",
                         settings_.flow_control_max_lag_messages, " messages and ", settings_.flow_control_max_lag_bytes,
                         " bytes");
      return false;
    }
  }
  return true;
}

void FlowControl::Sent(const std::string& topic, int64_t bytes) {
  if (!enabled()) return;
  InFlight& f = in_flight_[topic];
  ++f.messages;
  f.bytes += bytes;
}

void FlowControl::NotDelivered(const std::string& topic, int64_t bytes) {
  if (!enabled()) return;
  InFlight& f = in_flight_[topic];
  f.messages = std::max<int64_t>(0, f.messages - 1);
  f.bytes = std::max<int64_t>(0, f.bytes - bytes);
}

void FlowControl::Delivered(const std::string& topic, int32_t partition, int64_t offset, int64_t bytes) {
  if (!enabled()) return;
  NotDelivered(topic, bytes);  // no longer in flight
  largest_ = std::max(largest_, bytes);
  if (partition < 0 || offset < 0) return;
  std::vector<PartitionRecords>& partitions = delivered_[topic];
  if (static_cast<size_t>(partition) >= partitions.size()) partitions.resize(partition + 1);
  PartitionRecords& r = partitions[partition];
  if (r.records.empty() || r.records.back().offset < offset) {
    r.records.push_back({offset, bytes});
  } else {
    // Reports of one partition come in order; kept sorted whatever happens.
    auto at = std::lower_bound(r.records.begin(), r.records.end(), offset,
                               [](const Record& rec, int64_t o) { return rec.offset < o; });
    if (at != r.records.end() && at->offset == offset) return;
    r.records.insert(at, {offset, bytes});
  }
  r.bytes += bytes;
}

void FlowControl::ForgetInFlight() { in_flight_.clear(); }

}  // namespace pbr::platform
