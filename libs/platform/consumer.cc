#include "platform/consumer.h"

#include <algorithm>
#include <tuple>

#include "platform/log.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "platform/events.h"

namespace pbr::platform {

Consumer::Consumer(Store& store, Outbox& outbox, KafkaSettings settings, Metrics* metrics, const Clock& clock)
    : store_(store),
      outbox_(outbox),
      settings_(std::move(settings)),
      metrics_(metrics),
      clock_(clock),
      pending_(std::make_unique<PendingWrites>(store)) {
  // Before anything is served: a restarted replica answers for its last assignment, never for all it
  // holds (stale copies of partitions it lost included). A store that cannot be read stops Start.
  auto stored = store_.Get(kOffsetsFamily, kAssignedPartitionsKey);
  if (!stored.ok()) {
    load_error_ = stored.status();
  } else if (stored->has_value()) {
    pbr::state::v1::AssignedPartitions a;
    if (a.ParseFromString(**stored)) {
      assigned_.emplace(a.partitions().begin(), a.partitions().end());
    } else {
      load_error_ = absl::DataLossError("consumer: the stored partition assignment is unreadable");
    }
  }
}

Consumer::~Consumer() { Stop(); }

void Consumer::On(absl::string_view topic_name, EventHandler handler, std::string name) {
  handlers_[std::string(topic_name)].push_back({std::move(name), std::move(handler)});
}

void Consumer::Every(absl::Duration interval, std::function<absl::Status(ApplyContext&)> task) {
  tasks_.push_back({interval, std::move(task)});
}

absl::Status Consumer::RunDueTasks() {
  const absl::Time now = absl::Now();
  for (auto& task : tasks_) {
    if (now < task.next) continue;
    task.next = now + task.interval;
    rocksdb::WriteBatch batch;
    ApplyContext ctx(store_, outbox_, batch, clock_.Now(), &validator_);
    if (auto st = task.run(ctx); !st.ok()) return st;
    if (!ctx.emit_problem().ok()) {
      // A bug, not bad input: nothing of the pass is kept, and it is tried again next interval.
      PBR_LOG(err) << "consumer: periodic task not applied: " << ctx.emit_problem().message();
      continue;
    }
    if (batch.Count() == 0) continue;
    if (auto st = store_.Write(batch, /*sync=*/false); !st.ok()) {
      if (IsStoreRefusal(st)) continue;  // a full disk: the task runs again next interval
      return st;
    }
    if (ctx.emitted() > 0) outbox_.Wake();
  }
  return absl::OkStatus();
}

namespace {

// A stored position; a bare number was written before positions carried a digest (resumed unchecked).
absl::StatusOr<pbr::state::v1::ConsumedPosition> ParsePosition(absl::string_view stored) {
  pbr::state::v1::ConsumedPosition position;
  int64_t legacy = 0;
  if (absl::SimpleAtoi(stored, &legacy)) {
    position.set_next_offset(legacy);
  } else if (!position.ParseFromArray(stored.data(), static_cast<int>(stored.size())) || position.next_offset() < 0) {
    return absl::DataLossError("unreadable position");
  }
  return position;
}

}  // namespace

void Consumer::NoteAssignment(const rd_kafka_topic_partition_list_t* parts) {
  std::map<std::string, std::set<int32_t>> by_topic;
  std::set<int32_t> numbers;
  for (int i = 0; i < parts->cnt; ++i) {
    by_topic[parts->elems[i].topic].insert(parts->elems[i].partition);
    numbers.insert(parts->elems[i].partition);
  }
  for (const auto& [topic, partitions] : by_topic) {
    if (partitions != numbers) {
      PBR_LOG(err) << "consumer: " << topic << " was assigned other partitions than the other topics: their partition "
                   << "counts differ, so a person's events are split between replicas (give every topic the same count)";
      break;
    }
  }
  pbr::state::v1::AssignedPartitions record;
  for (int32_t n : numbers) record.add_partitions(n);
  rocksdb::WriteBatch batch;
  batch.Put(store_.Family(kOffsetsFamily), std::string(kAssignedPartitionsKey), record.SerializeAsString());
  // Only what a restart answers for until the group assigns again: not worth stopping for.
  if (auto st = store_.Write(batch, /*sync=*/false); !st.ok()) {
    PBR_LOG(warn) << "consumer: the partition assignment could not be stored: " << st;
  }
  std::lock_guard lock(assigned_mu_);
  assigned_ = std::move(numbers);
}

std::optional<std::set<int32_t>> AnsweredPartitions(const pbr::v1::ConsumedShare& share) {
  if (!share.assigned()) return std::nullopt;
  return std::set<int32_t>(share.partitions().begin(), share.partitions().end());
}

bool Answers(const pbr::v1::ConsumedShare& share, int32_t partition) {
  return !share.assigned() || std::find(share.partitions().begin(), share.partitions().end(), partition) !=
                                  share.partitions().end();
}

absl::StatusOr<ConsumedShare> Consumer::Share() const {
  ConsumedShare out;
  {
    std::lock_guard lock(assigned_mu_);
    out.partitions = assigned_;
  }
  for (const auto& handler : handlers_) {
    const std::string& name = handler.first;  // not a structured binding: clang 14 cannot capture one
    const std::string prefix = settings_.Topic(name) + "/";
    absl::Status problem;
    auto st = store_.Scan(kOffsetsFamily, prefix, [&](absl::string_view key, absl::string_view value) {
      int32_t partition = 0;
      if (!absl::SimpleAtoi(key.substr(prefix.size()), &partition)) return true;
      if (!out.Answers(partition)) return true;
      auto position = ParsePosition(value);
      if (!position.ok()) {
        problem = absl::DataLossError(absl::StrCat("stored position for ", key, " is unreadable"));
        return false;
      }
      out.applied.push_back({name, partition, position->next_offset()});
      return true;
    });
    if (!st.ok()) return st;
    if (!problem.ok()) return problem;
  }
  std::sort(out.applied.begin(), out.applied.end(), [](const ConsumedShare::Applied& a, const ConsumedShare::Applied& b) {
    return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
  });
  return out;
}

std::string Consumer::OffsetKey(absl::string_view topic, int32_t partition) const {
  return absl::StrCat(topic, "/", partition);
}

absl::Status Consumer::Start(std::function<void(const absl::Status&)> on_fatal) {
  // Without the shared rules, services would disagree about which events count.
  if (!handlers_.empty() && !validator_) {
    return absl::FailedPreconditionError(
        "consumer: no event validator (ValidateWith / ServiceHost::ValidateEventsWith) for the subscribed topics");
  }
  on_fatal_ = std::move(on_fatal);
  if (!load_error_.ok()) return load_error_;
  auto conf = BaseKafkaConf(settings_);
  if (!conf.ok()) return conf.status();
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"group.id", settings_.group_id},
           {"enable.auto.commit", "false"},
           {"enable.auto.offset.store", "false"},
           // Never silently jump: an offset the broker no longer has is reported and stops us.
           {"auto.offset.reset", "error"},
           {"session.timeout.ms", absl::StrCat(absl::ToInt64Milliseconds(settings_.session_timeout))},
           {"heartbeat.interval.ms", absl::StrCat(std::max<int64_t>(absl::ToInt64Milliseconds(settings_.session_timeout) / 3, 100))},
           {"fetch.wait.max.ms", absl::StrCat(absl::ToInt64Milliseconds(settings_.fetch_wait_max))},
           {"isolation.level", "read_committed"},
           // Range, not round-robin or cooperative-sticky: only range gives one member partition N of
           // every topic (with equal partition counts), so a replica holds the whole of each person it has.
           {"partition.assignment.strategy", "range"},
           // Periodic tasks wait until every partition has been read to its end (see CaughtUp).
           {"enable.partition.eof", tasks_.empty() ? "false" : "true"},
       }) {
    if (auto st = SetKafkaProperty(conf->get(), k, v); !st.ok()) return st;
  }
  rd_kafka_conf_set_rebalance_cb(conf->get(), &Consumer::OnRebalance);
  rd_kafka_conf_set_offset_commit_cb(conf->get(), &Consumer::OnCommitted);
  rd_kafka_conf_set_opaque(conf->get(), this);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), err, sizeof err);
  if (rk == nullptr) return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", err));
  conf->release();
  consumer_.reset(rk);
  rd_kafka_poll_set_consumer(rk);

  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(static_cast<int>(handlers_.size()));
  for (const auto& [name, _] : handlers_) {
    rd_kafka_topic_partition_list_add(topics, settings_.Topic(name).c_str(), RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("kafka subscribe: ", rd_kafka_err2str(e)));
  }
  stopping_ = false;
  closed_ = false;
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void Consumer::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  // Closed by the loop (LeaveGroup); a plain destroy would try to close it again, without a limit.
  if (consumer_ && closed_) rd_kafka_destroy_flags(consumer_.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  consumer_.reset();
}

namespace {

// A digest of a message's key and value: what the consumer remembers of the last message it applied.
std::string MessageDigest(const rd_kafka_message_t* msg) {
  return DeterministicId("consumed", {absl::string_view(static_cast<const char*>(msg->key), msg->key_len),
                                      absl::string_view(static_cast<const char*>(msg->payload), msg->len)});
}

constexpr absl::string_view kRecoveryHint =
    "Nothing was skipped or applied twice. If the broker was replaced or reset, recover as the README's "
    "'Recovery' section says: re-publish allocation's history (--republish-history) and rebuild this service "
    "(--reset-state).";

}  // namespace

absl::Status Consumer::LogExtent(rd_kafka_t* rk, const std::string& topic, int32_t partition, int64_t& low,
                                 int64_t& high) const {
  const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(settings_.timeout));
  rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int attempt = 0; attempt < 3; ++attempt) {  // a leader election is brief: ride it out
    e = rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition, &low, &high, timeout_ms / 3 + 1);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  }
  return absl::UnavailableError(
      absl::StrCat(topic, " partition ", partition, ": cannot read the log's extent: ", rd_kafka_err2str(e)));
}

absl::Status Consumer::CheckResumable(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                                      const pbr::state::v1::ConsumedPosition& stored, const std::string& cluster_id) {
  const std::string where = absl::StrCat(topic, " partition ", partition);
  if (!stored.cluster_id().empty() && !cluster_id.empty() && stored.cluster_id() != cluster_id) {
    return absl::DataLossError(absl::StrCat(where, ": the broker is cluster '", cluster_id,
                                            "', but this service consumed it from cluster '", stored.cluster_id(),
                                            "': it is not the log this service consumed. ", kRecoveryHint));
  }
  int64_t low = 0, high = 0;
  if (auto st = LogExtent(rk, topic, partition, low, high); !st.ok()) return st;
  if (high < stored.next_offset()) {
    return absl::DataLossError(absl::StrCat(where, ": the log ends at offset ", high, " but this service has applied it up to ",
                                            stored.next_offset(), ": it is not the log this service consumed. ",
                                            kRecoveryHint));
  }
  if (low > stored.next_offset() - 1) {
    return absl::DataLossError(absl::StrCat(where, ": the log now starts at offset ", low,
                                            ", after the last message this service applied (", stored.next_offset() - 1,
                                            "): refusing to resume. ", kRecoveryHint));
  }
  return absl::OkStatus();
}

absl::Status Consumer::CheckWholeLog(rd_kafka_t* rk, const std::string& topic, int32_t partition) {
  int64_t low = 0, high = 0;
  if (auto st = LogExtent(rk, topic, partition, low, high); !st.ok()) return st;
  if (low > 0) {
    return absl::DataLossError(absl::StrCat(
        topic, " partition ", partition, ": nothing of it is applied here and the log now starts at offset ", low,
        ": the events before it are gone, so this state cannot be built from it. ", kRecoveryHint));
  }
  return absl::OkStatus();
}

void Consumer::OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                           void* opaque) {
  auto* self = static_cast<Consumer*>(opaque);
  // A run polled before the rebalance is written first, so the positions read below include it.
  // If it cannot be written (a full disk), the consumer stops; a restart applies it again.
  if (!self->run_.empty()) {
    if (auto st = self->WriteRun(); !st.ok()) {
      self->DropRun();
      // Stops the consumer (not a pause: the assignment below would not include the run).
      self->rebalance_error_ = absl::UnavailableError(
          absl::StrCat("consumer: the messages applied before a rebalance could not be written: ", st.message()));
    }
  }
  self->resume_points_.clear();
  self->next_offsets_.clear();
  self->run_offsets_before_.clear();
  if (err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    rd_kafka_assign(rk, nullptr);
    // Until the group assigns again nothing is ours to answer for: answers may miss a moving partition
    // (and say so), never count it twice. Kept in the store as it was, for a restart.
    if (!self->stopping_) {
      std::lock_guard lock(self->assigned_mu_);
      self->assigned_.emplace();
    }
    return;
  }
  if (char* id = rd_kafka_clusterid(rk, static_cast<int>(absl::ToInt64Milliseconds(self->settings_.timeout)))) {
    self->cluster_id_ = id;
    rd_kafka_mem_free(rk, id);
  }
  self->NoteAssignment(parts);
  for (int i = 0; i < parts->cnt; ++i) {
    auto& p = parts->elems[i];
    const std::string key = self->OffsetKey(p.topic, p.partition);
    auto stored = self->store_.Get(kOffsetsFamily, key);
    if (!stored.ok()) {
      self->rebalance_error_ = stored.status();
      p.offset = RD_KAFKA_OFFSET_INVALID;
      continue;
    }
    p.offset = RD_KAFKA_OFFSET_BEGINNING;
    if (!stored->has_value()) {
      // Nothing applied here yet (a new service, a rebuild, a partition new to this replica): all of it
      // is read from the start, which must still be there, or the state would be built from part of it.
      if (auto st = self->CheckWholeLog(rk, p.topic, p.partition); !st.ok()) self->rebalance_error_ = st;
      continue;
    }
    auto parsed = ParsePosition(**stored);
    if (!parsed.ok()) {
      self->rebalance_error_ = absl::DataLossError(absl::StrCat("stored position for ", p.topic, "/", p.partition,
                                                                " is unreadable"));
      continue;
    }
    const pbr::state::v1::ConsumedPosition& position = *parsed;
    p.offset = position.next_offset();
    self->next_offsets_[key] = position.next_offset();
    if (position.next_offset() == 0 || position.last_digest().empty()) continue;
    if (auto st = self->CheckResumable(rk, p.topic, p.partition, position, self->cluster_id_); !st.ok()) {
      self->rebalance_error_ = st;
      continue;
    }
    // Re-read the last applied message to prove the log is the one consumed.
    p.offset = position.next_offset() - 1;
    self->resume_points_[key] = {p.offset, position.last_digest()};
  }
  self->run_offsets_before_ = self->next_offsets_;
  rd_kafka_assign(rk, parts);
  if (!self->rebalance_error_.ok()) return;  // stopping
  // Where the group stands on every partition it now reads, for producers' flow control: what is
  // stored, or where the log starts when nothing is.
  rd_kafka_topic_partition_list_t* positions = rd_kafka_topic_partition_list_new(parts->cnt);
  for (int i = 0; i < parts->cnt; ++i) {
    const auto& p = parts->elems[i];
    int64_t next = 0;
    if (auto stored = self->next_offsets_.find(self->OffsetKey(p.topic, p.partition)); stored != self->next_offsets_.end()) {
      next = stored->second;
    } else if (int64_t low = 0, high = 0;
               rd_kafka_query_watermark_offsets(rk, p.topic, p.partition, &low, &high,
                                                static_cast<int>(absl::ToInt64Milliseconds(self->settings_.timeout))) ==
                   RD_KAFKA_RESP_ERR_NO_ERROR) {
      next = std::max<int64_t>(0, low);
    }
    rd_kafka_topic_partition_list_add(positions, p.topic, p.partition)->offset = next;
  }
  self->Commit(rk, positions);
  rd_kafka_topic_partition_list_destroy(positions);
}

void Consumer::Commit(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* offsets) {
  if (offsets->cnt == 0) return;
  if (rd_kafka_resp_err_t e = rd_kafka_commit(rk, offsets, /*async=*/1); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    OnCommitted(rk, e, offsets, this);
  }
}

void Consumer::CommitRun() {
  if (run_first_offsets_.empty() || !consumer_) return;
  rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(static_cast<int>(run_first_offsets_.size()));
  for (const auto& [key, start] : run_first_offsets_) {
    auto next = next_offsets_.find(key);
    if (next == next_offsets_.end()) continue;
    rd_kafka_topic_partition_list_add(offsets, start.topic.c_str(), start.partition)->offset = next->second;
  }
  Commit(consumer_.get(), offsets);
  rd_kafka_topic_partition_list_destroy(offsets);
}

void Consumer::OnCommitted(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                           void* opaque) {
  auto* self = static_cast<Consumer*>(opaque);
  std::string failed;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    failed = rd_kafka_err2str(err);
  } else if (offsets != nullptr) {
    for (int i = 0; i < offsets->cnt && failed.empty(); ++i) {
      const auto& p = offsets->elems[i];
      if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) failed = absl::StrCat(p.topic, "/", p.partition, ": ", rd_kafka_err2str(p.err));
    }
  }
  if (failed.empty()) return;
  // Advisory (the store is the truth) and the next run commits again: a warning now and then.
  if (const absl::Time now = absl::Now(); now - self->commit_warned_at_ >= absl::Seconds(30)) {
    self->commit_warned_at_ = now;
    PBR_LOG(warn) << "consumer: committing the applied position to Kafka failed (" << failed
                  << "); producers' flow control sees this group further behind until a commit succeeds";
  }
}

absl::StatusOr<bool> Consumer::VerifyResumePoint(const rd_kafka_message_t* msg) {
  auto it = resume_points_.find(OffsetKey(rd_kafka_topic_name(msg->rkt), msg->partition));
  if (it == resume_points_.end()) return false;
  const ResumePoint expected = it->second;
  resume_points_.erase(it);
  if (msg->offset == expected.offset && MessageDigest(msg) == expected.digest) return true;
  return absl::DataLossError(absl::StrCat(
      rd_kafka_topic_name(msg->rkt), " partition ", msg->partition, ": the message at offset ", msg->offset,
      msg->offset == expected.offset ? " is not the one this service applied there"
                                     : absl::StrCat(" came where offset ", expected.offset, " was expected"),
      ": the log under the stored offset is not the log this service consumed (the broker was replaced or reset). ",
      kRecoveryHint));
}

absl::Status Consumer::DeadLetter(const rd_kafka_message_t* msg, absl::string_view topic_name,
                                  const std::string& reason, rocksdb::WriteBatchBase& batch) {
  absl::string_view key(static_cast<const char*>(msg->key), msg->key_len);
  pbr::v1::EventEnvelope dl = MakeEnvelope(
      topic::kDeadLetter,
      DeterministicId(topic::kDeadLetter, {settings_.group_id, rd_kafka_topic_name(msg->rkt),
                                           absl::StrCat(msg->partition), absl::StrCat(msg->offset)}),
      std::string(key), clock_.Now(), clock_.Now(), "", "");
  auto* p = dl.mutable_dead_letter();
  p->set_topic(rd_kafka_topic_name(msg->rkt));
  p->set_partition(msg->partition);
  p->set_offset(msg->offset);
  p->set_consumer_group(settings_.group_id);
  p->set_reason(reason);
  // Bounded: a message near the broker's limit must still fit once wrapped in a dead letter.
  constexpr size_t kKeptBytes = 256 << 10;
  p->set_original_key(std::string(key.substr(0, kKeptBytes)));
  p->set_original_value(std::string(static_cast<const char*>(msg->payload), std::min(msg->len, kKeptBytes)));
  p->set_original_value_size(static_cast<int64_t>(msg->len));
  p->set_original_value_truncated(msg->len > kKeptBytes);
  outbox_.Stage(batch, topic::kDeadLetter, dl);
  PBR_LOG(warn) << "dead-lettered " << rd_kafka_topic_name(msg->rkt) << "/" << msg->partition << "@" << msg->offset
               << ": " << reason;
  return absl::OkStatus();
}

absl::StatusOr<AppliedEvent> ApplyEvent(PendingWrites& pending, Outbox& outbox, const std::vector<NamedHandler>& handlers,
                                        const ConsumedEvent& consumed, absl::Time now, const EventValidator* validator,
                                        absl::Time remember_until) {
  AppliedEvent out;
  const std::string& id = consumed.event.event_id();
  auto seen = pending.Get(kSeenFamily, id);
  if (!seen.ok()) return seen.status();
  if (seen->has_value()) {
    out.duplicate = true;
    return out;
  }
  pending.SetSavePoint();
  ApplyContext ctx(pending, outbox, pending.batch(), now, validator);
  absl::Status st;
  std::string refused_by;  // the projection that refused the event, if named
  for (const NamedHandler& h : handlers) {
    st = h.handle(consumed, ctx);
    if (st.ok() && !ctx.emit_problem().ok()) st = ctx.emit_problem();
    if (!st.ok()) {
      refused_by = h.name;
      break;
    }
  }
  if (absl::IsInvalidArgument(st)) {
    if (auto rolled = pending.RollbackToSavePoint(); !rolled.ok()) return rolled;
    out.rejected = absl::StrCat("rejected: ", refused_by.empty() ? "" : absl::StrCat(refused_by, ": "), st.message());
    return out;
  }
  if (!st.ok()) {
    (void)pending.RollbackToSavePoint();  // the error is the one to report
    return st;
  }
  pending.PopSavePoint();
  out.staged = ctx.emitted() > 0;
  pending.batch().Put(pending.Family(kSeenFamily), id,
                      EncodeOrderedU64(static_cast<uint64_t>(absl::ToUnixSeconds(remember_until))));
  return out;
}

absl::Status Consumer::Stage(const rd_kafka_message_t* msg) {
  auto resume_point = VerifyResumePoint(msg);
  if (!resume_point.ok()) return resume_point.status();
  if (*resume_point) return absl::OkStatus();  // applied before the restart
  const std::string full_topic = rd_kafka_topic_name(msg->rkt);
  const std::string position_key = OffsetKey(full_topic, msg->partition);
  if (auto next = next_offsets_.find(position_key); next != next_offsets_.end()) {
    if (msg->offset < next->second) return absl::OkStatus();  // applied already (a re-fetch)
    if (msg->offset > next->second) {
      return absl::DataLossError(absl::StrCat(full_topic, " partition ", msg->partition, ": offset ", msg->offset,
                                              " came after ", next->second - 1,
                                              " with messages in between never applied. ", kRecoveryHint));
    }
  }
  absl::string_view topic_name = full_topic;
  absl::ConsumePrefix(&topic_name, settings_.topic_prefix);

  PendingWrites& pending = *pending_;
  bool staged = false;
  pbr::v1::EventEnvelope event;
  std::string reject;  // non-empty: dead-letter with this reason
  auto handler = handlers_.find(topic_name);
  if (handler == handlers_.end()) {
    reject = absl::StrCat("unsubscribed: no handler for topic ", topic_name);
  } else if (!event.ParseFromArray(msg->payload, static_cast<int>(msg->len))) {
    reject = "undecodable: value is not a pbr.v1.EventEnvelope";
  } else if (event.event_id().empty()) {
    reject = "invalid: event_id is empty";
  } else if (event.schema_version() > kSchemaVersion) {
    reject = absl::StrCat("unsupported: schema_version ", event.schema_version(), " is newer than ", kSchemaVersion);
  } else if (EventTypeOf(event) != topic_name) {
    reject = absl::StrCat("unknown-type: payload '", EventTypeOf(event), "' does not belong on topic ", topic_name);
  } else if (auto invalid = validator_ ? validator_(topic_name, event) : absl::OkStatus(); !invalid.ok()) {
    reject = absl::StrCat("invalid: ", invalid.message());
  }

  if (reject.empty()) {
    const ConsumedEvent consumed{topic_name, msg->partition, msg->offset, event};
    auto applied = ApplyEvent(pending, outbox_, handler->second, consumed, clock_.Now(), &validator_,
                              absl::Now() + dedup_retention_);
    if (!applied.ok()) return applied.status();
    staged = applied->staged;
    reject = applied->rejected;
  }
  if (!reject.empty()) {
    if (auto st = DeadLetter(msg, topic_name, reject, pending.batch()); !st.ok()) return st;
    staged = true;
  }
  pbr::state::v1::ConsumedPosition position;
  position.set_next_offset(msg->offset + 1);
  position.set_cluster_id(cluster_id_);
  position.set_last_digest(MessageDigest(msg));
  pending.batch().Put(store_.Family(kOffsetsFamily), position_key, position.SerializeAsString());
  run_first_offsets_.try_emplace(position_key, RunStart{full_topic, msg->partition, msg->offset});
  next_offsets_[position_key] = msg->offset + 1;
  run_.push_back({std::string(topic_name), staged, reject.empty() ? "" : reject.substr(0, reject.find(':'))});
  return absl::OkStatus();
}

absl::Status Consumer::WriteRun() {
  if (run_.empty() && pending_->empty()) {
    read_to_end_.insert(run_read_to_end_.begin(), run_read_to_end_.end());
    run_read_to_end_.clear();
    return absl::OkStatus();
  }
  // Not synced: after a power cut the state and its offsets roll back together and the messages
  // are consumed again; the outbox's deterministic ids make any re-sent event harmless.
  if (auto st = pending_->WriteTo(store_, /*sync=*/false); !st.ok()) return st;
  bool staged = false;
  for (const RunMessage& m : run_) {
    staged = staged || m.staged;
    if (!metrics_) continue;
    if (m.dead_letter_kind.empty()) metrics_->CountConsumed(m.topic_name);
    else metrics_->CountDeadLettered(m.topic_name, m.dead_letter_kind);
  }
  handled_.fetch_add(static_cast<int64_t>(run_.size()));
  writes_.fetch_add(1);
  last_write_unix_ns_.store(absl::ToUnixNanos(absl::Now()));
  CommitRun();
  run_.clear();
  run_first_offsets_.clear();
  read_to_end_.insert(run_read_to_end_.begin(), run_read_to_end_.end());
  run_read_to_end_.clear();
  if (staged) outbox_.Wake();
  return absl::OkStatus();
}

void Consumer::DropRun() {
  pending_->Clear();
  run_.clear();
  run_first_offsets_.clear();
  run_read_to_end_.clear();
  next_offsets_ = run_offsets_before_;
}

absl::Status Consumer::ApplyRun(const rd_kafka_message_t* first) {
  run_offsets_before_ = next_offsets_;
  // A message that cannot be applied leaves nothing in the run; the ones before it are written.
  auto stage = [&](const rd_kafka_message_t* msg) {
    pending_->SetSavePoint();
    absl::Status st = Stage(msg);
    if (st.ok()) {
      pending_->PopSavePoint();
    } else if (auto rolled = pending_->RollbackToSavePoint(); !rolled.ok()) {
      DropRun();
    } else if (IsStoreRefusal(st)) {
      // Paused below with the whole run: read again from here too.
      run_first_offsets_.try_emplace(OffsetKey(rd_kafka_topic_name(msg->rkt), msg->partition),
                                     RunStart{rd_kafka_topic_name(msg->rkt), msg->partition, msg->offset});
    }
    return st;
  };
  absl::Status st = stage(first);
  // Then what the client has already fetched, without waiting: a backlog is applied a run at a
  // time, a lone message at once.
  while (st.ok() && rebalance_error_.ok() && run_.size() < kMaxRunMessages && pending_->bytes() < kMaxRunBytes &&
         !stopping_) {
    rd_kafka_message_t* next = rd_kafka_consumer_poll(consumer_.get(), 0);
    if (next == nullptr) break;
    if (!rebalance_error_.ok()) st = rebalance_error_;
    else if (next->err == RD_KAFKA_RESP_ERR_NO_ERROR) st = stage(next);
    else st = NoteError(next);
    rd_kafka_message_destroy(next);
  }
  if (st.ok() && !rebalance_error_.ok()) st = rebalance_error_;
  if (IsStoreRefusal(st)) return st;  // nothing written: PauseUntilWritable reads the run again
  absl::Status written = WriteRun();
  if (written.ok()) return st;
  if (st.ok() && IsStoreRefusal(written)) return written;  // PauseUntilWritable reads the run again
  DropRun();  // stopping: a restart applies the run again
  return st.ok() ? written : st;
}

absl::Status Consumer::NoteError(const rd_kafka_message_t* msg) {
  if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && msg->rkt != nullptr) {
    // Read to its end once what came before the end is written (see WriteRun).
    const std::string key = OffsetKey(rd_kafka_topic_name(msg->rkt), msg->partition);
    if (run_.empty() && pending_->empty()) read_to_end_.insert(key);
    else run_read_to_end_.push_back(key);
  }
  return ErrorOf(msg);
}

Consumer::Progress Consumer::progress() const {
  Progress p;
  p.caught_up = caught_up_seen_.load();
  if (const int64_t lag = lag_total_.load(); lag >= 0) {
    p.lag = lag;
    p.lag_measured_at = absl::FromUnixNanos(lag_measured_unix_ns_.load());
  }
  if (const int64_t at = last_write_unix_ns_.load(); at != 0) p.last_write_at = absl::FromUnixNanos(at);
  p.handled = handled_.load();
  p.paused = paused_.load();
  return p;
}

void Consumer::UpdateLag() {
  rd_kafka_topic_partition_list_t* parts = nullptr;
  if (rd_kafka_assignment(consumer_.get(), &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || parts == nullptr) return;
  rd_kafka_position(consumer_.get(), parts);
  int64_t total = 0;
  bool measured = parts->cnt > 0;
  for (int i = 0; i < parts->cnt; ++i) {
    const auto& p = parts->elems[i];
    int64_t low = 0, high = 0;
    // Where this service stands is what it has applied (next_offsets_, from its store at assignment):
    // librdkafka's position stays invalid (-1001) on a partition nothing has been fetched from since the
    // start, which would count a whole idle partition as lag. Nothing applied there yet: from the log's start.
    int64_t position = p.offset < 0 ? 0 : p.offset;
    if (auto applied = next_offsets_.find(OffsetKey(p.topic, p.partition)); applied != next_offsets_.end()) {
      position = std::max(position, applied->second);
    }
    if (rd_kafka_get_watermark_offsets(consumer_.get(), p.topic, p.partition, &low, &high) ==
            RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0) {
      position = std::max(position, low);
      absl::string_view name = p.topic;
      absl::ConsumePrefix(&name, settings_.topic_prefix);
      total += std::max<int64_t>(0, high - position);
      if (metrics_) metrics_->SetConsumerLag(name, p.partition, std::max<int64_t>(0, high - position));
    } else {
      measured = false;
    }
  }
  rd_kafka_topic_partition_list_destroy(parts);
  if (measured) {
    lag_total_.store(total);
    lag_measured_unix_ns_.store(absl::ToUnixNanos(absl::Now()));
  }
}

absl::Status Consumer::ErrorOf(const rd_kafka_message_t* msg) {
  if (msg->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || msg->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
    return absl::DataLossError(absl::StrCat(
        "stored offset for ", msg->rkt ? rd_kafka_topic_name(msg->rkt) : "?", " partition ", msg->partition,
        " is no longer on the broker (", rd_kafka_message_errstr(msg),
        "); refusing to reset: events would be lost or counted twice. ", kRecoveryHint));
  }
  if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    PBR_LOG(warn) << "kafka consumer: " << rd_kafka_message_errstr(msg);
    if (char err[512]; rd_kafka_fatal_error(consumer_.get(), err, sizeof err) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat("kafka consumer fatal error: ", err));
    }
  }
  return absl::OkStatus();
}

absl::Status Consumer::SeekTo(const char* topic, int32_t partition, int64_t offset) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic, partition)->offset = offset;
  std::string failure;
  if (rd_kafka_error_t* e = rd_kafka_seek_partitions(consumer_.get(), list,
                                                     static_cast<int>(absl::ToInt64Milliseconds(settings_.timeout)))) {
    failure = rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
  } else if (list->elems[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    failure = rd_kafka_err2str(list->elems[0].err);
  }
  rd_kafka_topic_partition_list_destroy(list);
  if (failure.empty()) return absl::OkStatus();
  // Without the seek the next fetch would start after a message that was never applied.
  return absl::UnavailableError(absl::StrCat("consumer: cannot go back to ", topic, "/", partition, "@", offset,
                                             " to apply it later: ", failure, "; stopping (a restart resumes there)"));
}

absl::Status Consumer::PauseUntilWritable() {
  std::string at;
  for (const auto& [key, start] : run_first_offsets_) absl::StrAppend(&at, at.empty() ? "" : ", ", key, "@", start.offset);
  PBR_LOG(err) << "consumer: paused at " << (at.empty() ? "the next message" : at) << ": " << store_.CheckWritable()
               << "; nothing is committed, resuming when it writes again";
  paused_ = true;
  if (metrics_) metrics_->SetConsumerPaused(true);
  auto set_paused = [&](bool pause) {
    rd_kafka_topic_partition_list_t* parts = nullptr;
    if (rd_kafka_assignment(consumer_.get(), &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || parts == nullptr) return;
    if (pause) rd_kafka_pause_partitions(consumer_.get(), parts);
    else rd_kafka_resume_partitions(consumer_.get(), parts);
    rd_kafka_topic_partition_list_destroy(parts);
  };
  set_paused(true);
  // The run was not written: read each of its partitions again from its first message once the
  // store can write.
  absl::Status result;
  for (const auto& [key, start] : run_first_offsets_) {
    if (result.ok()) result = SeekTo(start.topic.c_str(), start.partition, start.offset);
  }
  DropRun();
  while (result.ok() && !stopping_ && !store_.CheckWritable().ok()) {
    // Keep serving the group; anything already fetched is put back the same way.
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_.get(), 200)) {
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        result = SeekTo(rd_kafka_topic_name(m->rkt), m->partition, m->offset);
      } else {
        result = ErrorOf(m);
      }
      rd_kafka_message_destroy(m);
      set_paused(true);  // a rebalance may have assigned partitions afresh
    }
    if (!rebalance_error_.ok()) result = rebalance_error_;
  }
  set_paused(false);
  paused_ = false;
  if (metrics_) metrics_->SetConsumerPaused(false);
  if (result.ok() && !stopping_) PBR_LOG(warn) << "consumer: the store writes again; resumed";
  return result;
}

bool Consumer::CaughtUp() {
  if (caught_up_) return true;
  if (tasks_.empty() || handlers_.empty()) { caught_up_seen_ = true; return caught_up_ = true; }
  const absl::Time now = absl::Now();
  if (started_at_ == absl::InfinitePast()) started_at_ = now;
  if (subscribed_partitions_ == 0 && now >= next_metadata_query_) {
    next_metadata_query_ = now + absl::Seconds(1);
    const rd_kafka_metadata_t* md = nullptr;
    // Short: it is asked again every second, and a long wait here (no broker yet) would hold up Stop().
    const absl::Duration wait = std::min(settings_.timeout, absl::Milliseconds(500));
    if (rd_kafka_metadata(consumer_.get(), 1, nullptr, &md, static_cast<int>(absl::ToInt64Milliseconds(wait))) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      int total = 0;
      for (int i = 0; i < md->topic_cnt; ++i) {
        absl::string_view name = md->topics[i].topic;
        if (absl::ConsumePrefix(&name, settings_.topic_prefix) && handlers_.contains(name)) {
          total += md->topics[i].partition_cnt;
        }
      }
      subscribed_partitions_ = total;
      rd_kafka_metadata_destroy(md);
    }
  }
  if (subscribed_partitions_ > 0 && static_cast<int>(read_to_end_.size()) >= subscribed_partitions_) {
    { caught_up_seen_ = true; return caught_up_ = true; }
  }
  if (now - started_at_ > catch_up_limit_) {
    PBR_LOG(warn) << "consumer: " << read_to_end_.size() << " of " << subscribed_partitions_
                  << " partitions read to their end after " << absl::FormatDuration(catch_up_limit_)
                  << "; running periodic tasks anyway";
    { caught_up_seen_ = true; return caught_up_ = true; }
  }
  return false;
}

void Consumer::Run() {
  absl::Status fatal;
  absl::Time next_lag_update = absl::InfinitePast();
  while (!stopping_ && fatal.ok()) {
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(consumer_.get(), 100);
    if (!rebalance_error_.ok()) fatal = rebalance_error_;
    if (msg != nullptr && !fatal.ok()) {
      rd_kafka_message_destroy(msg);  // the first reason to stop is the one reported
    } else if (msg != nullptr) {
      if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        fatal = ApplyRun(msg);
        if (IsStoreRefusal(fatal)) fatal = PauseUntilWritable();
      } else {
        fatal = NoteError(msg);
      }
      rd_kafka_message_destroy(msg);
    }
    if (fatal.ok() && CaughtUp()) fatal = RunDueTasks();
    if (absl::Time now = absl::Now(); now >= next_lag_update) {
      UpdateLag();
      next_lag_update = now + absl::Seconds(1);
    }
  }
  // Said before leaving the group: the reason to stop is in the log even if the broker is slow to let go.
  if (!fatal.ok()) PBR_LOG(err) << "consumer stopped: " << fatal;
  LeaveGroup();
  if (!fatal.ok() && on_fatal_) on_fatal_(fatal);
}

void Consumer::LeaveGroup() {
  // rd_kafka_consumer_close waits without a limit (for the coordinator, for commits in flight); a
  // broker that was replaced or is struggling must not keep a stopping service alive.
  rd_kafka_t* rk = consumer_.get();
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  if (rd_kafka_error_t* e = rd_kafka_consumer_close_queue(rk, queue)) {
    PBR_LOG(warn) << "consumer: leaving the group: " << rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
  } else {
    const absl::Time until = absl::Now() + settings_.timeout;
    while (!rd_kafka_consumer_closed(rk) && absl::Now() < until) {
      rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 100);
      if (event == nullptr) continue;
      // The revocation: nothing is left to write (every run was written or dropped before the loop ended).
      if (rd_kafka_event_type(event) == RD_KAFKA_EVENT_REBALANCE) rd_kafka_assign(rk, nullptr);
      rd_kafka_event_destroy(event);
    }
    if (!rd_kafka_consumer_closed(rk)) {
      PBR_LOG(warn) << "consumer: the broker did not confirm leaving the group within "
                    << absl::FormatDuration(settings_.timeout) << "; stopping anyway (the group moves on after "
                    << absl::FormatDuration(settings_.session_timeout) << ")";
    }
  }
  rd_kafka_queue_destroy(queue);
  closed_ = true;
}

}  // namespace pbr::platform
