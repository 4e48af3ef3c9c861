// pbr-allocation: the EPR-facing intake service.
#include "access.h"
#include "allocation_service.h"
#include "care_bridge.h"
#include "platform/log.h"
#include "platform/service_host.h"

int main(int argc, char** argv, char** envp) {
  using pbr::platform::SettingKind;
  auto settings = pbr::platform::CommonSettings("allocation", 50051, 9101);
  pbr::platform::SettingSpec secret{"pseudonym-secret", SettingKind::kString, "",
                                    "HMAC key for person pseudonyms (of the NHS number); keep it in a secret store and "
                                    "never change it: a new key gives every person a new pseudonym",
                                    true};
  secret.secret = true;          // PBR_PSEUDONYM_SECRET or --pseudonym-secret-file=FILE, never a flag
  secret.min_entropy_bits = 128;  // and so at least 32 characters
  settings.push_back(std::move(secret));
  settings.push_back({"republish-history", SettingKind::kBool, "false",
                       "at start, queue every event allocation ever published for publishing again, in order and "
                       "with the same ids (once, after the broker was replaced; README: Recovery)"});
  settings.push_back({"allow-unknown-teams", SettingKind::kBool, "false",
                      "admit assessments and care events for teams the rules' team registry (teams.yaml) does not "
                      "list, recording them as unknown, counting and logging them (while a migration completes the "
                      "registry); false refuses them"});
  settings.push_back({"intake-max-outbox-backlog", SettingKind::kInt, "100000",
                      "the bulk intake (RecordIntake) holds the next batch while more events than this wait in the "
                      "outbox to be published: back-pressure when the broker or the consumers are behind",
                      false, 1, 100'000'000});
  return pbr::platform::RunService(
      "allocation", settings, pbr::allocation::AllocationFamilies(),
      argc, argv, envp, [](pbr::platform::ServiceHost& host) -> absl::Status {
        auto rules = pbr::services::LoadRulesFor(host);
        if (!rules.ok()) return rules.status();
        // The system of record keeps every event it publishes, so a lost broker can be refilled.
        auto complete = pbr::allocation::JournalCoversHistory(host.store());
        if (!complete.ok()) return complete.status();
        host.outbox().KeepJournal();
        if (host.config().GetBool("republish-history")) {
          if (!*complete) {
            return absl::FailedPreconditionError(
                "republish-history: this store was filled before it kept a journal, so its journal lacks the "
                "oldest events and re-publishing it would rebuild the other services from part of the history; "
                "restore the topics from the Kafka cluster's backup instead (deploy/README.md)");
          }
          auto republished = host.outbox().RepublishJournal([](int64_t done, int64_t total) {
            PBR_LOG(info) << "republish-history: " << done << " of " << total << " events queued";
          });
          if (!republished.ok()) return republished.status();
          PBR_LOG(warn) << "republish-history: " << *republished
                        << " events queued for the broker; consumers rebuild with --reset-state";
        }
        pbr::allocation::AllocationOptions options;
        options.allow_unknown_teams = host.config().GetBool("allow-unknown-teams");
        options.metrics = &host.metrics();
        options.max_outbox_backlog = host.config().GetInt("intake-max-outbox-backlog");
        if (options.allow_unknown_teams) {
          PBR_LOG(warn) << "allow-unknown-teams: teams missing from the team registry (teams "
                        << (*rules)->teams().version << ", " << (*rules)->teams().teams.size()
                        << " teams) are admitted and counted in pbr_unknown_team_records_total";
        }
        host.SetAccessPolicy(pbr::services::AuthorizeCall);  // the role matrix, under mutual TLS
        host.AddService(std::make_unique<pbr::allocation::AllocationService>(
            host.store(), host.outbox(), host.clock(), *rules, host.config().GetString("pseudonym-secret"), options));
        return absl::OkStatus();
      });
}
