#!/usr/bin/env ruby
# frozen_string_literal: true
#
# tables.rb — modelflags following Flipper's own ActiveRecord tables, written
# by the real gem (issue 12): Debian's ruby-flipper with its
# flipper-active_record adapter, ActiveRecord and ruby-pg, against a real
# server, with both table namings:
#   - the gem's flipper_features/flipper_gates, created by the gem's own
#     migration template;
#   - GitLab's features/feature_gates, created as GitLab's migration creates
#     them, written through ActiveRecord models named as lib/feature.rb names
#     them (Feature::FlipperFeature, Feature::FlipperGate).
#
# For each naming: attach_flipper, the GitLab Duo definitions
# (examples/gitlab-duo.yml) and GitLab's YAML flag definitions, then Flipper
# calls made as Rails makes them (role gitlab, which owns the tables and has
# no privilege on modelflags; statement_timeout 15 s as in GitLab).  After
# every call, model_for from a separate plain connection (role duo_service)
# must route each of ACTORS actors, and no actor, for both features exactly
# as GitLab's Feature.enabled? says (re-implemented below from lib/feature.rb:
# default_enabled only when not persisted, enabled && !opt_out) over what
# Flipper itself reads through a second, independent ActiveRecord
# connection.  Besides:
#   - while a Flipper call runs, the reader is checked after every statement
#     inside its transactions (it must still see the state before them) and
#     after every commit (it must see what Flipper reads then: the
#     intermediate committed states of disable, clear, add);
#   - every call is audited row by row (table, operation, the row, changed_by
#     gitlab, application_name gitlab-rails) and notified (a LISTEN session
#     gets notifications whose change ids cover exactly the audit rows);
#   - Rails writes never fail because of modelflags: a DBA holding locks on
#     modelflags.changes, flags and flag_actors, a short statement_timeout,
#     no privilege at all, DROP EXTENSION.
#
# Needs a server with the extension installed and a superuser; environment:
#   MF_HOST, MF_PORT          where the server is (a Unix socket directory)
#   FLIPPER_TABLES_ACTORS     actors compared at every step (default 5000)
# test/flipper/tables.sh makes a throwaway server and runs this.

require 'active_record'
require 'flipper'
require 'flipper/version'
require 'flipper/adapters/active_record'
require 'pg'
require 'json'
require 'yaml'
require 'erb'
require 'set'

$stdout.sync = true
T0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
HOST = ENV.fetch('MF_HOST')
PORT = Integer(ENV.fetch('MF_PORT'))
N_ACTORS = Integer(ENV.fetch('FLIPPER_TABLES_ACTORS', '5000'))
ROOT = File.expand_path('../..', __dir__)
DB = 'gitlabhq'
RAILS_APP = 'gitlab-rails'
RAILS_STATEMENT_TIMEOUT = '15s' # GitLab's database.yml
F_INCIDENT = 'incident_fail_over_generation_provider'
F_DERISK = 'code_generations_claude_sonnet_4_6'     # YAML default_enabled: false
F_DEFAULT_ON = 'code_completions_codestral_2508'    # YAML default_enabled: true (below)
FEATURES = %w[code_generations code_completions].freeze

def now = Process.clock_gettime(Process::CLOCK_MONOTONIC)

$failed = 0
$passed = 0
def pass(msg)
  $passed += 1
  puts "PASS: flipper tables #{msg}"
end

def fail(msg, details = [])
  $failed += 1
  puts "FAIL: flipper tables #{msg}"
  details.first(10).each { |d| puts "    #{d}" }
end

def check(ok, msg, details = [])
  ok ? pass(msg) : fail(msg, details)
  ok
end

def pg(user, app, db = DB)
  c = PG.connect(host: HOST, port: PORT, dbname: db, user: user, application_name: app)
  c.set_notice_receiver { |_r| nil }
  c
end

def text_array(a) = PG::TextEncoder::Array.new.encode(a)

# ---------------------------------------------------------------------------
# The database: GitLab's role owns its tables and has no privilege on
# modelflags; a service reads model_for; a DBA (superuser) set things up.

setup = pg('postgres', 'modelflags-test-setup', 'postgres')
setup.exec('CREATE ROLE gitlab LOGIN')
setup.exec('CREATE ROLE duo_service LOGIN')
setup.exec("CREATE DATABASE #{DB} OWNER gitlab")
setup.close
ADMIN = pg('postgres', 'dba')
ADMIN.exec('CREATE EXTENSION modelflags')
READER = pg('duo_service', 'ai-gateway')        # model_for, explain: the service
READER2 = pg('duo_service', 'ai-gateway-2')     # one with an open transaction
LISTENER = pg('duo_service', 'modelflags-listener')
LISTENER.exec('LISTEN modelflags')

# Rails, as GitLab connects (database.yml: statement_timeout 15 s).
ActiveRecord::Base.establish_connection(
  adapter: 'postgresql', host: HOST, port: PORT, database: DB, username: 'gitlab',
  application_name: RAILS_APP, variables: { statement_timeout: RAILS_STATEMENT_TIMEOUT }
)
WARNINGS = []
def rails_conn = ActiveRecord::Base.connection
def watch_warnings
  rails_conn.raw_connection.set_notice_receiver do |r|
    WARNINGS << r.error_message.strip if r.result_error_field(PG::PG_DIAG_SEVERITY) == 'WARNING'
  end
end
watch_warnings

# What Flipper reads, as another GitLab process would: a second, independent
# ActiveRecord connection with its own models for the same tables.
module Check
  class Base < ActiveRecord::Base
    self.abstract_class = true
  end
end
Check::Base.establish_connection(adapter: 'postgresql', host: HOST, port: PORT, database: DB,
                                 username: 'gitlab', application_name: 'gitlab-rails-reader')

# GitLab's models (lib/feature.rb) and opt-out actor (Feature::OptOut).
module Feature
  class FlipperRecord < ActiveRecord::Base
    self.abstract_class = true
  end

  class FlipperFeature < FlipperRecord
    self.table_name = 'features'
  end

  class FlipperGate < FlipperRecord
    self.table_name = 'feature_gates'
  end

  class OptOut
    def initialize(inner)
      @inner = inner
    end

    def flipper_id = "#{@inner.flipper_id}:opt_out"
  end
end

# GitLab's db/migrate/20170525174156_create_feature_tables.rb.
class CreateFeatureTables < ActiveRecord::Migration[4.2]
  def change
    create_table :features do |t|
      t.string :key, null: false
      t.timestamps null: false
    end
    add_index :features, :key, unique: true

    create_table :feature_gates do |t|
      t.string :feature_key, null: false
      t.string :key, null: false
      t.string :value
      t.timestamps null: false
    end
    add_index :feature_gates, %i[feature_key key value], unique: true
  end
end

ActiveRecord::Migration.verbose = false

# The gem's own migration template (rails g flipper:active_record).
def create_gem_tables
  spec = Gem.loaded_specs['flipper-active_record']
  dir = spec ? spec.full_gem_path : File.expand_path('../../..', $LOADED_FEATURES.grep(%r{flipper/adapters/active_record\.rb}).first)
  template = File.read(File.join(dir, 'lib/generators/flipper/templates/migration.erb'))
  migration_version = "[#{ActiveRecord::Migration.current_version}]"
  Object.class_eval(ERB.new(template).result(binding))
  CreateFlipperTables.new.migrate(:up)
end

def checker_models(prefix, features, gates)
  f = Check.const_set("#{prefix}Feature", Class.new(Check::Base) { self.table_name = features })
  g = Check.const_set("#{prefix}Gate", Class.new(Check::Base) { self.table_name = gates })
  [f, g]
end

NAMINGS = [
  { name: 'flipper_features/flipper_gates', features: 'flipper_features', gates: 'flipper_gates',
    create: -> { create_gem_tables },
    writer: -> { Flipper::Adapters::ActiveRecord.new },
    checker: -> { checker_models('Gem', 'flipper_features', 'flipper_gates') } },
  { name: 'features/feature_gates', features: 'features', gates: 'feature_gates',
    create: -> { CreateFeatureTables.new.migrate(:up) },
    writer: -> { Flipper::Adapters::ActiveRecord.new(feature_class: Feature::FlipperFeature,
                                                     gate_class: Feature::FlipperGate) },
    checker: -> { checker_models('Gitlab', 'features', 'feature_gates') } }
].freeze

# ---------------------------------------------------------------------------
# Definitions: the Duo routes and flags, without gates (a GitLab flag's gates
# are Flipper's), then GitLab's YAML flag definitions, which give
# default_enabled.  One derisk flag is defined default_enabled: true, as a
# finished rollout is before its flag is removed.

duo = YAML.safe_load(File.read(File.join(ROOT, 'examples/gitlab-duo.yml')))
duo['flags'].each { |f| %w[enabled percentage_of_actors percentage_of_time actors opt_outs].each { |k| f.delete(k) } }
GITLAB_YAML = Dir[File.join(ROOT, 'examples/gitlab/config/feature_flags/**/*.yml')].sort.map { |p| File.read(p) }
GITLAB_YAML << <<~YAML
  ---
  name: #{F_DEFAULT_ON}
  description: Move code completions to Codestral 25.08.
  feature_issue_url:
  introduced_by_url:
  rollout_issue_url:
  milestone: '18.4'
  group: group::ai coding
  type: gitlab_com_derisk
  default_enabled: true
YAML
DEFAULT_ENABLED = {}
duo['flags'].each { |f| DEFAULT_ENABLED[f['name']] = f['default_enabled'] == true }
GITLAB_YAML.each { |y| d = YAML.safe_load(y); DEFAULT_ENABLED[d['name']] = d['default_enabled'] == true }

def load_definitions
  r = ADMIN.exec_params('SELECT format, definitions FROM modelflags.load_definitions($1, note => $2)',
                        [JSON.generate($duo), 'GitLab Duo routes'])
  formats = [r[0]['format']]
  GITLAB_YAML.each do |y|
    formats << ADMIN.exec_params('SELECT format FROM modelflags.load_definitions($1)', [y])[0]['format']
  end
  formats
end
$duo = duo

ROUTES = Hash.new { |h, k| h[k] = [] }
MODELS = {}

# ---------------------------------------------------------------------------
# Actors: GitLab flipper_ids of several types, and a few odd ones.

ACTORS = begin
  a = []
  i = 0
  while a.size < N_ACTORS - 4
    i += 1
    a << "User:#{i}"
    a << "Project:#{i}" if i % 4 == 0
    a << "Group:#{i}" if i % 6 == 0
    a << "Namespaces::UserNamespace:#{i}" if i % 10 == 0
  end
  a = a.first(N_ACTORS - 4)
  a + ["User:\u00e9", 'FlipperGitlabInstance:gitlab.example.com', "Project:\u{1F98A}", 'User: 42']
end.freeze
FEW = (ACTORS.first(150) + ACTORS.last(4) + %w[User:42 User:7 User:1000]).uniq.freeze

# ---------------------------------------------------------------------------
# GitLab's Feature.enabled?(key, thing) over what Flipper reads (lib/feature.rb,
# research/flipper-tables.md §2): YAML default_enabled when the flag has no
# row in the features table, else Flipper's answer, false for an actor with
# an opt-out row.  And the routing walk over it (every model and provider is
# up here, which the setup checks).

class Expect
  attr_reader :flipper

  def initialize(adapter)
    @flipper = Flipper.new(adapter)
    @flipper.memoize = true
    @persisted = @flipper.adapter.features.to_set
  end

  def persisted?(flag) = @persisted.include?(flag)

  def enabled?(flag, id)
    return true if DEFAULT_ENABLED[flag] && !persisted?(flag)
    feature = @flipper[flag]
    thing = id && Flipper::Actor.new(id)
    on = feature.enabled?(thing)
    on && !(thing && feature.actors_value.include?(Feature::OptOut.new(thing).flipper_id))
  end

  def model(feature, id)
    ROUTES.fetch(feature).find { |flag, _| flag.nil? || enabled?(flag, id) }&.last
  end
end

# model_for from the service's connection: { [feature, actor] => model }.
def routed(actors, conn = READER)
  res = conn.exec_params(<<~SQL, [text_array(FEATURES), text_array(actors + [nil])])
    SELECT f, a, m.model FROM unnest($1::text[]) f CROSS JOIN unnest($2::text[]) a
           CROSS JOIN LATERAL modelflags.model_for(f, a) m
  SQL
  res.each_with_object({}) { |r, h| h[[r['f'], r['a']]] = r['model'] }
end

# Compares the service's answers with GitLab's for actors (and no actor).
def compare(expect, actors)
  got = routed(actors)
  want = {}
  bad = []
  FEATURES.each do |f|
    (actors + [nil]).each do |a|
      want[[f, a]] = expect.model(f, a)
      next if want[[f, a]] == got[[f, a]]
      bad << "model_for(#{f}, #{a.inspect}) = #{got[[f, a]].inspect}, GitLab's Feature.enabled? routes to #{want[[f, a]].inspect}"
    end
  end
  [want, bad]
end

# ---------------------------------------------------------------------------
# Watching a Flipper call statement by statement (ActiveSupport notifications
# of the writer's connection): inside a transaction the service must still get
# the answers of the last committed state; after each commit, the answers of
# what Flipper then reads.

class Watch
  attr_reader :in_txn, :commits, :bad

  def initialize
    @active = false
    @in_txn = 0
    @commits = 0
    @bad = []
    @conn_ids = Set.new
    ActiveSupport::Notifications.subscribe('sql.active_record') { |*args| event(args.last) }
  end

  def run(checker, before)
    @checker = checker
    @before = before
    @inside = false
    @writer = rails_conn.object_id
    @active = true
    yield
  ensure
    @active = false
  end

  def event(payload)
    return unless @active && payload[:connection]&.object_id == @writer
    sql = payload[:sql].to_s.strip
    case sql
    when 'BEGIN' then @inside = true
    when 'COMMIT'
      @inside = false
      committed
    when 'ROLLBACK'
      @inside = false
      against(@before, 'after a rollback')
    else
      return if sql.match?(/\ASELECT/i)
      if @inside
        @in_txn += 1
        against(@before, "inside a Flipper transaction, after #{sql[0, 60].inspect}")
      else
        committed
      end
    end
  end

  def against(want, where)
    got = routed(FEW)
    want.each do |k, m|
      next if got[k] == m
      @bad << "#{where}: model_for(#{k[0]}, #{k[1].inspect}) = #{got[k].inspect}, expected #{m.inspect}"
    end
  end

  def committed
    @commits += 1
    want, bad = compare(Expect.new(@checker.call), FEW)
    @bad.concat(bad.map { |b| "after a commit: #{b}" })
    @before = want
  end
end
WATCH = Watch.new

# ---------------------------------------------------------------------------
# Audit and NOTIFY of one Flipper call.

def rows(table)
  ADMIN.exec("SELECT to_jsonb(t) - 'created_at' - 'updated_at' AS j FROM #{table} t ORDER BY id")
       .map { |r| JSON.parse(r['j']) }.to_h { |j| [j['id'], j] }
end

def max_change_id = Integer(ADMIN.exec('SELECT coalesce(max(id), 0) AS m FROM modelflags.changes')[0]['m'])

def drain_notifications(wanted_ids, timeout: 3.0)
  got = []
  collect = ->(wait) { LISTENER.wait_for_notify(wait) { |_ch, _pid, payload| got << JSON.parse(payload) } }
  deadline = now + timeout
  loop do
    covered = got.flat_map { |n| n['first_change_id'] ? (n['first_change_id']..n['last_change_id']).to_a : [] }
    break if wanted_ids.subset?(covered.to_set) || now >= deadline
    collect.call(deadline - now)
  end
  nil while collect.call(0.05) # and whatever else arrived: none expected
  got
end

AuditStats = Struct.new(:rows, :notifications)
AUDIT = AuditStats.new(0, 0)

# Runs block (one Flipper call) and checks its audit rows and notifications.
def audited(naming, label)
  qual = { naming[:features] => "public.#{naming[:features]}", naming[:gates] => "public.#{naming[:gates]}" }
  before = qual.keys.to_h { |t| [t, rows(t)] }
  since = max_change_id
  drain_notifications(Set.new, timeout: 0)
  yield
  expected = []
  qual.each do |t, q|
    after = rows(t)
    (before[t].keys - after.keys).each { |id| expected << [q, 'DELETE', before[t][id]] }
    (after.keys - before[t].keys).each { |id| expected << [q, 'INSERT', after[id]] }
  end
  audit = ADMIN.exec_params('SELECT id, table_name, operation, old_row, new_row, changed_by, application_name
                               FROM modelflags.changes WHERE id > $1 ORDER BY id', [since]).to_a
  got = audit.map { |r| [r['table_name'], r['operation'], JSON.parse(r['old_row'] || r['new_row'])] }
  canon = ->(list) { list.map { |x| JSON.generate([x[0], x[1], x[2].sort.to_h]) }.sort }
  problems = []
  problems << "audit rows #{canon.call(got)} but the tables changed by #{canon.call(expected)}" if canon.call(got) != canon.call(expected)
  who = audit.map { |r| [r['changed_by'], r['application_name']] }.uniq
  problems << "recorded as #{who.inspect}, not [[\"gitlab\", #{RAILS_APP.inspect}]]" unless who.empty? || who == [['gitlab', RAILS_APP]]
  ids = audit.map { |r| Integer(r['id']) }.to_set
  notes = drain_notifications(ids)
  covered = Set.new
  notes.each do |n|
    unless qual.value?(n['table']) && n['source'] == 'flipper' && n['first_change_id']
      problems << "unexpected notification #{n.to_json}"
      next
    end
    range = (n['first_change_id']..n['last_change_id']).to_a
    problems << "notification #{n.to_json} names #{range.size} ids for #{n['rows']} rows" if range.size != n['rows']
    rows_of = audit.select { |r| range.include?(Integer(r['id'])) }
    problems << "notification #{n.to_json} does not match its audit rows" unless
      rows_of.all? { |r| r['table_name'] == n['table'] && r['operation'] == n['operation'] }
    covered.merge(range)
  end
  problems << "notifications cover change ids #{covered.to_a.sort.inspect}, the audit has #{ids.to_a.sort.inspect}" if covered != ids
  AUDIT.rows += audit.size
  AUDIT.notifications += notes.size
  check(problems.empty? && !audit.empty?,
        "[#{naming[:name]}] #{label}: audited (#{audit.size} rows: what changed, by gitlab as #{RAILS_APP}) " \
        "and notified (#{notes.size} notifications, payload table #{notes.map { |n| n['table'] }.uniq.join(', ')})",
        audit.empty? ? ['no audit row'] : problems)
end

# ---------------------------------------------------------------------------
# One step: a Flipper call, watched, audited, then every actor compared.

STEP_TIMES = []
DECISIONS = [0]

def step(naming, flipper, label, audit: true, expect_prop: nil, &call)
  checker = -> { naming[:checker_adapter] }
  before, = compare(Expect.new(checker.call), FEW)
  bad_watch_before = WATCH.bad.size
  WARNINGS.clear
  t = now
  work = lambda do
    WATCH.run(checker, before) { call&.call(flipper) }
  end
  begin
    audit ? audited(naming, label, &work) : work.call
  rescue StandardError => e
    fail("[#{naming[:name]}] #{label}: the Flipper call raised #{e.class}: #{e.message.lines.first&.strip}")
    return nil
  end
  elapsed = now - t
  STEP_TIMES << elapsed
  if call
    check(WARNINGS.empty?, "[#{naming[:name]}] #{label}: no WARNING reached Rails", WARNINGS)
    watch_bad = WATCH.bad[bad_watch_before..]
    check(watch_bad.empty?, "[#{naming[:name]}] #{label}: while Flipper wrote, model_for answered from committed " \
                            "states only, each as Flipper reads it (#{WATCH.commits} commits and #{WATCH.in_txn} " \
                            'in-transaction statements checked so far)', watch_bad)
  end
  expect = Expect.new(checker.call)
  want, bad = compare(expect, ACTORS)
  DECISIONS[0] += want.size
  prop_ok = true
  prop_msg = ''
  if expect_prop
    prop_ok, prop_msg = expect_prop.call(want, expect)
  end
  check(bad.empty? && prop_ok,
        "[#{naming[:name]}] #{label}: model_for = GitLab's Feature.enabled? routing for #{ACTORS.size} actors " \
        "and no actor, both features#{prop_msg.empty? ? '' : "; #{prop_msg}"}",
        bad + (prop_ok ? [] : ["expected: #{prop_msg}"]))
  want
end

def routed_to(want, feature, model) = want.select { |(f, a), m| f == feature && m == model && a }.map { |(_, a), _| a }.to_set

def gate_values(naming, flag, key)
  ADMIN.exec_params("SELECT value FROM #{naming[:gates]} WHERE feature_key = $1 AND key = $2 ORDER BY id", [flag, key])
       .map { |r| r['value'] }
end

# ---------------------------------------------------------------------------
# The run.

puts "flipper #{Flipper::VERSION} (flipper-active_record), activerecord #{ActiveRecord::VERSION::STRING}, " \
     "pg #{PG::VERSION}, #{ACTORS.size} actors"

formats = load_definitions
ADMIN.exec('SELECT feature, position, flag, model FROM modelflags.routes ORDER BY feature, position').each do |r|
  ROUTES[r['feature']] << [r['flag'], r['model']]
end
down = ADMIN.exec('SELECT count(*) AS n FROM modelflags.models m JOIN modelflags.providers p ON p.name = m.provider
                    WHERE NOT m.enabled OR NOT p.available')[0]['n']
unless down == '0' && ROUTES.keys.sort == FEATURES.sort && DEFAULT_ENABLED[F_DEFAULT_ON] && !DEFAULT_ENABLED[F_INCIDENT]
  fail("setup: the definitions are not as this test assumes (#{ROUTES.inspect}, #{down} models down)")
  exit 1
end
pass("setup: GitLab Duo definitions and #{GITLAB_YAML.size} GitLab YAML flag definitions loaded (#{formats.uniq.join(', ')})")
FAILOVER = ROUTES['code_generations'].find { |f, _| f == F_INCIDENT }.last
MIGRATION = ROUTES['code_generations'].find { |f, _| f == F_DERISK }.last
GEN_DEFAULT = ROUTES['code_generations'].find { |f, _| f.nil? }.last
COMPL_NEW = ROUTES['code_completions'].find { |f, _| f == F_DEFAULT_ON }.last
COMPL_DEFAULT = ROUTES['code_completions'].find { |f, _| f.nil? }.last
ALL = ACTORS.size

def run_naming(naming)
  nm = naming[:name]
  naming[:create].call
  fc, gc = naming[:checker].call
  naming[:checker_adapter] = Flipper::Adapters::ActiveRecord.new(feature_class: fc, gate_class: gc)
  cols = ADMIN.exec_params("SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
                              FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0", [naming[:gates]])[0]['string_agg']
  r = ADMIN.exec_params('SELECT features, gates FROM modelflags.attach_flipper($1, $2, note => $3)',
                        [naming[:features], naming[:gates], "attach #{nm}"])[0]
  pass("[#{nm}] attach_flipper(#{r['features']}, #{r['gates']}); #{naming[:gates]}: #{cols}")
  flipper = Flipper.new(naming[:writer].call)
  actor = ->(id) { Flipper::Actor.new(id) }
  only = lambda do |feature, model, set, what|
    lambda do |want, _|
      s = routed_to(want, feature, model)
      [s == set, "#{feature} on #{model} for #{what} (#{s.size})"]
    end
  end

  step(naming, flipper, 'before any Flipper write (no features row: YAML default_enabled)', audit: false,
       expect_prop: lambda { |want, _|
         g = routed_to(want, 'code_generations', GEN_DEFAULT)
         c = routed_to(want, 'code_completions', COMPL_NEW)
         [g.size == ALL && c.size == ALL, "code_generations on #{GEN_DEFAULT}, code_completions on #{COMPL_NEW} (default_enabled: true) for all #{ALL}"]
       })

  # The runbook: /chatops run feature set incident_fail_over_generation_provider true.
  READER2.exec('BEGIN')
  open_before = READER2.exec("SELECT model FROM modelflags.model_for('code_generations', 'User:1')")[0]['model']
  step(naming, flipper, "Flipper.enable(:#{F_INCIDENT})",
       expect_prop: only.call('code_generations', FAILOVER, ACTORS.to_set, "all #{ALL}")) { |f| f.enable(F_INCIDENT) }
  open_after = READER2.exec("SELECT model FROM modelflags.model_for('code_generations', 'User:1')")[0]['model']
  READER2.exec('COMMIT')
  next_txn = READER2.exec("SELECT model FROM modelflags.model_for('code_generations', 'User:1')")[0]['model']
  check(open_before == GEN_DEFAULT && open_after == GEN_DEFAULT && next_txn == FAILOVER,
        "[#{nm}] a service transaction open across the Rails commit keeps #{open_after}; its next transaction gets #{next_txn}",
        ["before #{open_before}, after the commit in the same transaction #{open_after}, next transaction #{next_txn}"])
  ex = READER.exec("SELECT position, decision, gate, reason FROM modelflags.explain('code_generations', 'User:1') ORDER BY position").to_a
  check(ex[0]['decision'] == 'chosen' && ex[0]['gate'] == 'boolean',
        "[#{nm}] explain: route #{ex[0]['position']} #{ex[0]['decision']}: #{ex[0]['reason']}", [ex.inspect])

  step(naming, flipper, "Flipper.disable(:#{F_INCIDENT}) (a DELETE transaction per gate; features row kept)",
       expect_prop: only.call('code_generations', GEN_DEFAULT, ACTORS.to_set, "all #{ALL}")) { |f| f.disable(F_INCIDENT) }

  # Percentage of actors: 25, 12.5, 25.0, as written by this Flipper version.
  sets = {}
  [[25, '25'], [12.5, '12.5'], [25.0, '25.0']].each do |pct, stored|
    w = step(naming, flipper, "Flipper.enable_percentage_of_actors(:#{F_DERISK}, #{pct.inspect})",
             expect_prop: lambda { |want, expect|
               s = routed_to(want, 'code_generations', MIGRATION)
               fl = ACTORS.select { |a| expect.flipper[F_DERISK].enabled?(actor.call(a)) }.to_set
               [s == fl && (s.size - ALL * pct / 100.0).abs < ALL * 0.03,
                "exactly the #{s.size} actors Flipper's enabled? puts in (#{format('%.2f', 100.0 * s.size / ALL)}%) on #{MIGRATION}"]
             }) { |f| f.enable_percentage_of_actors(F_DERISK, pct) }
    next unless w
    sets[pct.inspect] = routed_to(w, 'code_generations', MIGRATION)
    v = gate_values(naming, F_DERISK, 'percentage_of_actors')
    check(v == [stored], "[#{nm}] enable_percentage_of_actors(#{pct.inspect}) stored value #{v.inspect}", ["expected [#{stored.inspect}]"])
  end
  if sets.size == 3
    check(sets['12.5'].subset?(sets['25']) && sets['25'] == sets['25.0'],
          "[#{nm}] the 12.5% actors are inside the 25% ones, and '25' and '25.0' put the same #{sets['25'].size} actors in")
  end
  in_bucket = sets['25'].to_a.reject { |a| %w[User:42 User:7].include?(a) }.min_by { |a| ACTORS.index(a) }

  # GitLab's opt-out: an actors row "<flipper_id>:opt_out" (Feature.opt_out).
  step(naming, flipper, "opt-out of #{in_bucket} from #{F_DERISK} (actors row '#{in_bucket}:opt_out')",
       expect_prop: only.call('code_generations', MIGRATION, sets['25'] - [in_bucket], "the 25% minus #{in_bucket}")) do |f|
    f.enable_actor(F_DERISK, Feature::OptOut.new(actor.call(in_bucket)))
  end
  step(naming, flipper, "remove_opt_out of #{in_bucket} (disable_actor of the ':opt_out' row)",
       expect_prop: only.call('code_generations', MIGRATION, sets['25'], 'the 25% again')) do |f|
    f.disable_actor(F_DERISK, Feature::OptOut.new(actor.call(in_bucket)))
  end
  step(naming, flipper, "Flipper.enable_actor(:#{F_INCIDENT}, User:42)",
       expect_prop: only.call('code_generations', FAILOVER, Set['User:42'], 'User:42 only')) do |f|
    f.enable_actor(F_INCIDENT, actor.call('User:42'))
  end
  step(naming, flipper, "Flipper.enable(:#{F_INCIDENT}): every other gate deleted, one transaction",
       expect_prop: only.call('code_generations', FAILOVER, ACTORS.to_set, "all #{ALL}")) { |f| f.enable(F_INCIDENT) }
  step(naming, flipper, 'opt-out of User:42 while the flag is on for everyone',
       expect_prop: only.call('code_generations', FAILOVER, ACTORS.to_set - ['User:42'], 'all but User:42')) do |f|
    f.enable_actor(F_INCIDENT, Feature::OptOut.new(actor.call('User:42')))
  end
  step(naming, flipper, 'User:7 gets an actor row and an opt-out row (the opt-out wins)',
       expect_prop: only.call('code_generations', FAILOVER, ACTORS.to_set - %w[User:42 User:7], 'all but User:42, User:7')) do |f|
    f.enable_actor(F_INCIDENT, actor.call('User:7'))
    f.enable_actor(F_INCIDENT, Feature::OptOut.new(actor.call('User:7')))
  end
  step(naming, flipper, "Flipper.disable(:#{F_INCIDENT}) with four gate rows: four DELETE transactions",
       expect_prop: lambda { |want, expect|
         s = routed_to(want, 'code_generations', FAILOVER)
         [s.empty? && expect.persisted?(F_INCIDENT), "no actor on #{FAILOVER}; persisted, no gate"]
       }) { |f| f.disable(F_INCIDENT) }
  step(naming, flipper, "Flipper.enable(:#{F_INCIDENT}) again, and an opt-out of User:42",
       expect_prop: only.call('code_generations', FAILOVER, ACTORS.to_set - ['User:42'], 'all but User:42')) do |f|
    f.enable(F_INCIDENT)
    f.enable_actor(F_INCIDENT, Feature::OptOut.new(actor.call('User:42')))
  end
  step(naming, flipper, "Flipper.remove(:#{F_INCIDENT}): not persisted, YAML default_enabled false",
       expect_prop: lambda { |want, expect|
         s = routed_to(want, 'code_generations', FAILOVER)
         [s.empty? && !expect.persisted?(F_INCIDENT), "no actor on #{FAILOVER}, back to the 25% rollout and the default"]
       }) { |f| f.remove(F_INCIDENT) }

  # A flag whose YAML says default_enabled: true: persisted with no gate is off.
  step(naming, flipper, "Flipper.add(:#{F_DEFAULT_ON}): persisted with no gate, off although YAML says default_enabled true",
       expect_prop: only.call('code_completions', COMPL_DEFAULT, ACTORS.to_set, "all #{ALL}")) { |f| f.add(F_DEFAULT_ON) }
  step(naming, flipper, "Flipper.remove(:#{F_DEFAULT_ON}): YAML default_enabled true again",
       expect_prop: only.call('code_completions', COMPL_NEW, ACTORS.to_set, "all #{ALL}")) { |f| f.remove(F_DEFAULT_ON) }

  # Groups: a Ruby block, which no SQL evaluates: never open, and explain says so.
  Flipper.register(:gitlab_team_members) { |a| a.respond_to?(:flipper_id) && %w[User:3 User:5].include?(a.flipper_id) }
  begin
    flipper.enable_group(F_DERISK, :gitlab_team_members)
    gitlab_view = Expect.new(naming[:checker_adapter])
    members_on = %w[User:3 User:5].select { |a| gitlab_view.enabled?(F_DERISK, a) }
    Flipper.unregister_groups
    closed_view = Expect.new(naming[:checker_adapter])
    want, bad = compare(closed_view, ACTORS)
    DECISIONS[0] += want.size
    ex = READER.exec("SELECT reason FROM modelflags.explain('code_generations', 'User:3') WHERE flag = '#{F_DERISK}'")[0]['reason']
    group_only = members_on.reject { |a| sets['25'].include?(a) }
    check(bad.empty? && !group_only.empty? && group_only.none? { |a| want[['code_generations', a]] == MIGRATION } &&
          ex.include?('group'),
          "[#{nm}] enable_group(:gitlab_team_members): Flipper opens it for #{members_on.join(', ')}; modelflags never " \
          "does (#{group_only.join(', ')} stay off; every other decision as Flipper's); explain: #{ex}", bad)
    flipper.disable_group(F_DERISK, :gitlab_team_members)
  ensure
    Flipper.unregister_groups
  end

  step(naming, flipper, "Flipper.disable(:#{F_DERISK})",
       expect_prop: only.call('code_generations', GEN_DEFAULT, ACTORS.to_set, "all #{ALL}")) { |f| f.disable(F_DERISK) }
  flipper
end

# A DBA session holding a lock while Rails writes: the write must succeed, in
# bounded time; the WARNING says what was skipped.
def with_lock(sql)
  dba = pg('postgres', 'dba-maintenance')
  dba.exec('BEGIN')
  dba.exec(sql)
  yield
ensure
  dba&.exec('ROLLBACK')
  dba&.close
end

def rails_write(label)
  WARNINGS.clear
  t = now
  yield
  [now - t, nil]
rescue ActiveRecord::ActiveRecordError => e
  [now - t, e]
end

def faults(naming, flipper)
  nm = naming[:name]
  gates = naming[:gates]
  boolean_rows = -> { ADMIN.exec_params("SELECT count(*) AS n FROM #{gates} WHERE feature_key = $1 AND key = 'boolean'", [F_INCIDENT])[0]['n'].to_i }
  failover_for = ->(conn) { conn.exec("SELECT model FROM modelflags.model_for('code_generations', 'User:1')")[0]['model'] }

  # 1. CREATE INDEX on the audit table (SHARE lock): inserts into it wait.
  since = max_change_id
  secs, err = nil
  with_lock('CREATE INDEX changes_changed_at_idx ON modelflags.changes (changed_at)') do
    secs, err = rails_write('enable') { flipper.enable(F_INCIDENT) }
  end
  audited_rows = ADMIN.exec_params('SELECT count(*) AS n FROM modelflags.changes WHERE id > $1', [since])[0]['n'].to_i
  check(err.nil? && boolean_rows.call == 1 && secs < 10 && WARNINGS.any? { |w| w.include?('could not audit') } &&
        audited_rows.zero? && failover_for.call(READER) == FAILOVER,
        "[#{nm}] a DBA's CREATE INDEX on modelflags.changes in an open transaction: Flipper.enable succeeds in " \
        "#{format('%.2f', secs)} s (statement_timeout #{RAILS_STATEMENT_TIMEOUT}), not audited, with a WARNING, " \
        'and routing follows it',
        [err && "Rails write failed: #{err.class}: #{err.message.lines.first.strip}", "boolean rows #{boolean_rows.call}",
         "audit rows #{audited_rows}", *WARNINGS, "model_for #{failover_for.call(READER)}"].compact)

  # 2. The same with a short statement_timeout: the wait is bounded by it too.
  rails_conn.execute("SET statement_timeout = '1s'")
  with_lock('LOCK TABLE modelflags.changes IN SHARE MODE') do
    secs, err = rails_write('enable_actor') { flipper.enable_actor(F_INCIDENT, Flipper::Actor.new('User:99')) }
  end
  rails_conn.execute("SET statement_timeout = '#{RAILS_STATEMENT_TIMEOUT}'")
  stored = ADMIN.exec_params("SELECT count(*) AS n FROM #{gates} WHERE feature_key = $1 AND value = 'User:99'", [F_INCIDENT])[0]['n'].to_i
  check(err.nil? && stored == 1 && WARNINGS.any? { |w| w.include?('could not audit') },
        "[#{nm}] the same with statement_timeout 1s: Flipper.enable_actor succeeds in #{format('%.2f', secs)} s, with a WARNING",
        [err && "Rails write failed: #{err.class}: #{err.message.lines.first.strip}", "rows #{stored}", *WARNINGS].compact)

  # 3. ACCESS EXCLUSIVE on flags and flag_actors (what TRUNCATE, VACUUM FULL,
  # ALTER TABLE take): nothing of the trigger waits for it.
  with_lock('LOCK TABLE modelflags.flags, modelflags.flag_actors IN ACCESS EXCLUSIVE MODE') do
    secs, err = rails_write('disable') { flipper.disable(F_INCIDENT) }
  end
  check(err.nil? && WARNINGS.empty? && secs < 5 && boolean_rows.call.zero? && failover_for.call(READER) == GEN_DEFAULT,
        "[#{nm}] a DBA's ACCESS EXCLUSIVE lock on modelflags.flags and flag_actors: Flipper.disable succeeds in " \
        "#{format('%.2f', secs)} s, waiting for nothing (no lock timeout, no WARNING); the service's next transaction " \
        'after the lock routes by it',
        [err && "Rails write failed: #{err.class}: #{err.message.lines.first.strip}", *WARNINGS,
         "model_for #{failover_for.call(READER)}"].compact)

  # 4. No privilege at all: USAGE on schema modelflags revoked from PUBLIC.
  ADMIN.exec('REVOKE USAGE ON SCHEMA modelflags FROM PUBLIC')
  since = max_change_id
  secs, err = rails_write('enable') { flipper.enable(F_INCIDENT) }
  ADMIN.exec('GRANT USAGE ON SCHEMA modelflags TO PUBLIC')
  who = ADMIN.exec_params('SELECT DISTINCT changed_by FROM modelflags.changes WHERE id > $1', [since]).map { |r| r['changed_by'] }
  check(err.nil? && WARNINGS.empty? && who == ['gitlab'] && failover_for.call(READER) == FAILOVER,
        "[#{nm}] USAGE on schema modelflags revoked from PUBLIC: Flipper.enable still succeeds, audited as gitlab, routed",
        [err && "Rails write failed: #{err.class}: #{err.message.lines.first.strip}", *WARNINGS, "audited by #{who.inspect}"].compact)

  # 5. DROP EXTENSION: refused while attached; with CASCADE the triggers go
  # and Rails writes on; attached again, routing follows the rows at once.
  state = begin
    ADMIN.exec('DROP EXTENSION modelflags')
    'dropped'
  rescue PG::Error => e
    e.result.error_field(PG::PG_DIAG_SQLSTATE)
  end
  ADMIN.exec('SET client_min_messages = warning')
  ADMIN.exec('DROP EXTENSION modelflags CASCADE') if state == '2BP01'
  _, err = rails_write('disable') { flipper.disable(F_INCIDENT) }
  _, err2 = rails_write('enable') { flipper.enable(F_INCIDENT) }
  ADMIN.exec('CREATE EXTENSION modelflags')
  load_definitions
  ADMIN.exec_params('SELECT modelflags.attach_flipper($1, $2)', [naming[:features], naming[:gates]])
  check(state == '2BP01' && err.nil? && err2.nil? && WARNINGS.empty? && failover_for.call(READER) == FAILOVER,
        "[#{nm}] DROP EXTENSION modelflags is refused while attached (#{state}); after DROP ... CASCADE Rails writes on " \
        'without a WARNING; created and attached again, routing follows the rows Flipper wrote meanwhile',
        [err && err.message, err2 && err2.message, *WARNINGS, "model_for #{failover_for.call(READER)}"].compact)
end

# How much the triggers cost a Flipper write: enable/disable pairs.
def write_cost(flipper, n = 40)
  t = now
  n.times do
    flipper.enable(F_INCIDENT)
    flipper.disable(F_INCIDENT)
  end
  (now - t) / (2 * n) * 1000
end

last = nil
NAMINGS.each do |naming|
  t = now
  flipper = run_naming(naming)
  last = [naming, flipper]
  puts format('[%s] %.1f s', naming[:name], now - t)
  next if naming == NAMINGS.last
  ADMIN.exec('SELECT modelflags.detach_flipper()')
end

naming, flipper = last
faults(naming, flipper)
attached_ms = write_cost(flipper)
ADMIN.exec('SELECT modelflags.detach_flipper()')
detached_ms = write_cost(flipper)
puts format('a Flipper enable or disable takes %.2f ms attached, %.2f ms detached (mean of 80 each)', attached_ms, detached_ms)

# The statement-by-statement checks ran (they would pass vacuously otherwise).
check(WATCH.commits >= 40 && WATCH.in_txn >= 40,
      "the writer's statements were watched: #{WATCH.commits} commits, #{WATCH.in_txn} statements inside transactions")
puts format('%d decisions compared (%d actors and no actor, 2 features, every step), %d commits and %d ' \
            'in-transaction statements of Flipper checked for what the service read, %d audit rows and %d ' \
            'notifications checked; %.1f s', DECISIONS[0], ACTORS.size, WATCH.commits, WATCH.in_txn,
            AUDIT.rows, AUDIT.notifications, now - T0)
puts "#{$passed} passed, #{$failed} failed"
exit($failed.zero? ? 0 : 1)
