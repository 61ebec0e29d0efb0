#!/usr/bin/env ruby
# frozen_string_literal: true
#
# compat.rb — modelflags against the real Flipper gem (Debian's ruby-flipper).
#
# Builds thousands of random gate configurations in Flipper's memory adapter
# by calling Flipper's own API (so every configuration is one Flipper can
# hold), loads the same configurations into modelflags.flags and
# modelflags.flag_actors with COPY, asks modelflags.is_enabled and
# modelflags.rollout_pct for every (flag, actor) pair in one query, and
# compares each answer with Flipper::Feature#enabled?.
#
# Parts (each prints one PASS:/FAIL: line):
#   1. flipper compatibility: is_enabled(flag, actor) = Feature#enabled?(actor)
#   2. raw CRC: rollout_pct(flag, actor) * 1000 = Zlib.crc32(flag + actor) % 100000
#   3. rollout_pct(flag, actor) * 1000 < percentage_of_actors::float8 * 1000
#      (the README's statement of the rule, with Flipper's float product)
#      agrees with Flipper's own percentage_of_actors gate
#   4. GitLab wrapper (re-implemented from lib/feature.rb, research §2.1):
#      default_enabled when not persisted, opt-out forces false
#   5. exact rollout boundaries: actors whose position is exactly p * 1000
#   6. percentage_of_time 50 / 2.5 / 97.125, statistically
#
# Needs a database with the extension created (PG* environment variables);
# test/flipper/run.sh makes a throwaway one.  Environment:
#   FLIPPER_COMPAT_SEED   random seed (default 20260522, printed)
#   FLIPPER_COMPAT_N      number of Flipper configurations (default 10000)
#   FLIPPER_COMPAT_GITLAB number of GitLab-wrapper configurations (default 3000)
#   FLIPPER_COMPAT_KEEP   keep the work directory (its path is printed)

require 'flipper'
require 'flipper/version'
require 'flipper/adapters/memory'
require 'zlib'
require 'set'
require 'open3'
require 'tmpdir'
require 'fileutils'

SEED = Integer(ENV.fetch('FLIPPER_COMPAT_SEED', '20260522'))
N_FLIPPER = Integer(ENV.fetch('FLIPPER_COMPAT_N', '10000'))
N_GITLAB = Integer(ENV.fetch('FLIPPER_COMPAT_GITLAB', '3000'))
RNG = Random.new(SEED)
T0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)

puts "flipper gem #{Flipper::VERSION}, seed #{SEED} (FLIPPER_COMPAT_SEED=#{SEED} reproduces this run), " \
     "#{N_FLIPPER} Flipper + #{N_GITLAB} GitLab-wrapper configurations"

def rand_int(n) = RNG.rand(n)
def chance(p) = RNG.rand < p
def pick(a) = a[RNG.rand(a.size)]

# ---------------------------------------------------------------------------
# Random inputs

WORD_CHARS = ('a'..'z').to_a + ('0'..'9').to_a

def random_word(max = 10)
  Array.new(1 + rand_int(max)) { pick(WORD_CHARS) }.join
end

$used_names = Set.new

# A valid, not yet used flag name: [a-z0-9]+ joined by "_", at most 255 bytes;
# now and then exactly 255 bytes, or one letter.
def random_flag_name
  loop do
    name =
      case rand_int(20)
      when 0 then random_word(1)
      when 1
        s = +''
        s << random_word(12) << '_' while s.size < 240
        s << random_word(40)
        s = s[0, 255]
        s = s.chomp('_') while s.end_with?('_')
        s
      else Array.new(1 + rand_int(6)) { random_word }.join('_')
      end
    next unless name.match?(/\A[a-z0-9]+(_[a-z0-9]+)*\z/) && name.bytesize <= 255
    return name if $used_names.add?(name)
  end
end

# Percentages as Flipper is given them (strings, as ChatOps passes them):
# 0..100 with 0 to 3 decimals, the edges more often than chance would.
def random_percentage
  case rand_int(12)
  when 0 then '0'
  when 1 then '100'
  when 2 then pick(%w[0.001 99.999 0.01 0.1 99.9 50 1 99 33.333 66.667 12.5 0.5])
  when 3, 4 then rand_int(101).to_s
  when 5, 6 then format('%d.%d', rand_int(100), rand_int(10))
  when 7, 8 then format('%d.%02d', rand_int(100), rand_int(100))
  else format('%d.%03d', rand_int(100), rand_int(1000))
  end
end

SPECIAL_ACTORS = [
  'User:42', 'User:1', 'Project:7', 'Group:9', 'Namespaces::UserNamespace:3', 'Ci::Runner:5',
  'Organizations::Organization:1', 'FlipperGitlabInstance:gitlab.example.com', 'Clusters::Instance',
  "User:\u00e9", "User:\u65e5\u672c\u8a9e", "Project:\u{1F98A}", "Group:\u0645\u0631\u062d\u0628\u0627",
  'x', '0', ' ', 'User: 42', 'User:42 ', "tab\there", "new\nline", "cr\rhere", 'back\\slash', '\\N',
  "quote'and\"double", 'comma,separated', 'semi;colon', 'User;42', 'Repository:group/sub/project.git',
  'User:42:opt_out', '%', '_', 'a' * 1024, "\u00e9" * 512, 'User:' + '9' * 300
].freeze

GITLAB_TYPES = %w[User Project Group Namespaces::UserNamespace Ci::Runner Organizations::Organization Namespace].freeze

# A flipper_id: mostly GitLab's "Type:id", sometimes one of the odd ones above.
def random_actor
  case rand_int(10)
  when 0 then pick(SPECIAL_ACTORS)
  when 1 then "Repository:#{random_word}/#{random_word}"
  when 2 then "#{pick(GITLAB_TYPES)}:#{random_word(3)}\u00e9"
  else "#{pick(GITLAB_TYPES)}:#{1 + rand_int(rand_int(2).zero? ? 100 : 10_000_000)}"
  end
end

# ---------------------------------------------------------------------------
# COPY text format

def copy_field(v)
  return '\\N' if v.nil?
  v.to_s.gsub(/[\\\t\n\r]/, "\\" => '\\\\', "\t" => '\\t', "\n" => '\\n', "\r" => '\\r')
end

def copy_line(*fields) = fields.map { |f| copy_field(f) }.join("\t") << "\n"

def copy_unescape(s)
  return nil if s == '\\N'
  s.gsub(/\\(.)/) { { '\\' => '\\', 't' => "\t", 'n' => "\n", 'r' => "\r" }.fetch(Regexp.last_match(1)) }
end

# ---------------------------------------------------------------------------
# Configurations

Config = Struct.new(:part, :name, :flipper, :persisted, :default_enabled,
                    :enabled, :pct_actors, :pct_time, :actors, :opt_outs, :history, keyword_init: true)

FLIPPER = Flipper.new(Flipper::Adapters::Memory.new) # part 1: plain Flipper
GITLAB = Flipper.new(Flipper::Adapters::Memory.new)  # part 4: Flipper under GitLab's wrapper

def actor(id) = Flipper::Actor.new(id)

# Applies 1-5 random operations through Flipper's public API and returns them.
# Flipper's own rules then decide what is held: enable(true) clears the other
# gates, disable (boolean false) clears everything, disable_percentage_* sets 0.
def random_flipper_ops(feature, gitlab:)
  ops = []
  known = []
  (1 + rand_int(5)).times do
    case rand_int(gitlab ? 9 : 8)
    when 0 then feature.enable; ops << 'enable'
    when 1 then feature.disable; ops << 'disable'
    when 2, 3
      p = random_percentage
      feature.enable_percentage_of_actors(p); ops << "pct_actors #{p}"
    when 4
      p = pick(%w[0 100])
      feature.enable_percentage_of_time(p); ops << "pct_time #{p}"
    when 5
      feature.disable_percentage_of_actors; ops << 'disable_pct_actors'
    when 6, 7
      # mostly 0-5 actors; sometimes more than the cache keeps exactly (32),
      # so the Bloom-filter path of the cache is compared too
      n = chance(0.03) ? 30 + rand_int(90) : rand_int(6)
      n.times do
        a = random_actor
        next if gitlab && a.end_with?(':opt_out')
        known << a
        feature.enable_actor(actor(a))
      end
      ops << "#{n} actors"
      if !known.empty? && chance(0.2)
        gone = pick(known)
        feature.disable_actor(actor(gone)); ops << "disable_actor #{gone[0, 40].inspect}"
      end
    when 8
      # GitLab's Feature.opt_out(key, thing): adds "<flipper_id>:opt_out" to the actor set
      a = chance(0.5) && !known.empty? ? pick(known) : random_actor
      next if a.end_with?(':opt_out')
      known << a
      feature.enable_actor(actor("#{a}:opt_out")); ops << "opt_out #{a[0, 40].inspect}"
    end
  end
  [ops, known]
end

# What the Flipper adapter holds for feature, as modelflags columns.
def modelflags_columns(adapter, feature, gitlab:)
  v = adapter.get(feature)
  enabled = v[:boolean] == 'true' ? true : nil
  actors = v[:actors].to_a
  opt_outs = []
  if gitlab
    opt_outs = actors.select { |a| a.end_with?(':opt_out') }.map { |a| a.delete_suffix(':opt_out') }
    actors = actors.reject { |a| a.end_with?(':opt_out') } - opt_outs # one row per actor; opt-out wins
  end
  gates_set = enabled || v[:percentage_of_actors] || v[:percentage_of_time] || !actors.empty? || !opt_outs.empty?
  # A persisted flag with no gate left (Flipper cleared it) is enabled = false
  # in modelflags: "set once", so default_enabled no longer applies.  With a
  # gate left, NULL and false must mean the same; pick either.
  enabled = false if enabled.nil? && (!gates_set || chance(0.5))
  [enabled, v[:percentage_of_actors], v[:percentage_of_time], actors, opt_outs]
end

configs = []

N_FLIPPER.times do
  name = random_flag_name
  f = FLIPPER[name]
  ops, = random_flipper_ops(f, gitlab: false)
  enabled, pa, pt, actors, = modelflags_columns(FLIPPER.adapter, f, gitlab: false)
  configs << Config.new(part: :flipper, name: name, persisted: true,
                        # default_enabled must not matter once a gate was set
                        default_enabled: chance(0.3), enabled: enabled, pct_actors: pa, pct_time: pt,
                        actors: actors, opt_outs: [], history: ops)
end

N_GITLAB.times do
  name = random_flag_name
  default_enabled = chance(0.5)
  if chance(0.25)
    # Not persisted: no row in GitLab's features table; modelflags has the
    # flag (its YAML definition) with no gate ever set.
    configs << Config.new(part: :gitlab, name: name, persisted: false, default_enabled: default_enabled,
                          enabled: nil, pct_actors: nil, pct_time: nil, actors: [], opt_outs: [],
                          history: ['not persisted'])
  else
    f = GITLAB[name]
    ops, = random_flipper_ops(f, gitlab: true)
    enabled, pa, pt, actors, opt_outs = modelflags_columns(GITLAB.adapter, f, gitlab: true)
    configs << Config.new(part: :gitlab, name: name, persisted: true, default_enabled: default_enabled,
                          enabled: enabled, pct_actors: pa, pct_time: pt, actors: actors,
                          opt_outs: opt_outs, history: ops)
  end
end

# Flags Flipper and modelflags have never heard of: both must say false.
UNKNOWN = Array.new(200) { random_flag_name }

# ---------------------------------------------------------------------------
# Expected answers

# GitLab's Feature.enabled?(key, thing) from lib/feature.rb (research §2.1),
# minus what has no counterpart here (dev-mode checks, recursion guards):
#   default_enabled && !persisted     → true
#   otherwise flipper_feature.enabled?(thing), then, if that is true and
#   thing is not nil, false when the actor set holds "<flipper_id>:opt_out".
def gitlab_enabled?(cfg, id)
  return true if cfg.default_enabled && !cfg.persisted
  feature = GITLAB[cfg.name]
  thing = id && actor(id)
  result = feature.enabled?(thing)
  return false if result && thing && feature.actors_value.include?("#{thing.flipper_id}:opt_out")
  result
end

Check = Struct.new(:id, :part, :cfg, :flag, :actor, :expected, :kind)
checks = []
add = lambda do |part, cfg, flag, id, expected, kind = :random|
  checks << Check.new(checks.size + 1, part, cfg, flag, id, expected, kind)
end

configs.each do |cfg|
  ids = [nil]
  ids.concat(cfg.actors.sample(3, random: RNG))
  ids.concat(cfg.opt_outs.sample(2, random: RNG))
  (3 + rand_int(3)).times { ids << random_actor }
  ids.uniq.each do |id|
    next if cfg.part == :gitlab && id&.end_with?(':opt_out')
    expected =
      if cfg.part == :flipper then FLIPPER[cfg.name].enabled?(id && actor(id))
      else gitlab_enabled?(cfg, id)
      end
    add.call(cfg.part, cfg, cfg.name, id, expected)
  end
end
UNKNOWN.each do |name|
  [nil, random_actor].each { |id| add.call(:flipper, nil, name, id, FLIPPER[name].enabled?(id && actor(id))) }
end

# Exact boundaries.  Flipper compares crc % 100000 < p * 1000 in floating
# point, where p comes from the stored string (String#to_f).  For most p,
# p.to_f * 1000 is the exact integer; for some (16.1, 2.007, ...) it is a
# little above, so the actor sitting exactly at position p * 1000 is inside
# for Flipper.  These checks put actors at p * 1000 - 1, p * 1000 and
# p * 1000 + 1 for both kinds of p.
def float_above?(p) = p.to_f * 1000 > (p.to_r * 1000)
boundary_pcts_above = (0..100_000).map { |k| format('%d.%03d', k / 1000, k % 1000).sub(/\.?0+\z/, '') }
                                  .select { |p| p.include?('.') && float_above?(p) }
boundary_pcts_exact = %w[1 12.5 25 50 0.5 33.333 66.667 0.001 99.999 16.2 4.04]
boundary_cfgs = []
boundary_pcts = boundary_pcts_above.sample(24, random: RNG) + ['16.1', '2.007'] + boundary_pcts_exact
boundary_pcts.uniq.each do |p|
  flag = random_flag_name
  cut = (p.to_r * 1000).to_i
  want = [cut - 1, cut, cut + 1].select { |x| x.between?(0, 99_999) }.to_set
  found = {}
  base = Zlib.crc32("#{flag}User:") # Zlib.crc32(s, base) continues the CRC
  k = 0
  while found.size < want.size && k < 2_000_000
    pos = Zlib.crc32(k.to_s, base) % 100_000
    found[pos] ||= "User:#{k}" if want.include?(pos)
    k += 1
  end
  f = FLIPPER[flag]
  f.enable_percentage_of_actors(p)
  cfg = Config.new(part: :boundary, name: flag, persisted: true, default_enabled: false, enabled: nil,
                   pct_actors: FLIPPER.adapter.get(f)[:percentage_of_actors], pct_time: nil,
                   actors: [], opt_outs: [], history: ["pct_actors #{p}"])
  boundary_cfgs << cfg
  found.each_value { |id| add.call(:boundary, cfg, flag, id, f.enabled?(actor(id)), :boundary) }
end
configs.concat(boundary_cfgs)

# ---------------------------------------------------------------------------
# Load into modelflags and evaluate in one query

work = Dir.mktmpdir('modelflags-flipper-')
File.chmod(0o755, work)
File.open(File.join(work, 'flags.tsv'), 'w') do |io|
  configs.each do |c|
    io << copy_line(c.name, c.enabled.nil? ? nil : c.enabled.to_s, c.pct_actors, c.pct_time, c.default_enabled.to_s)
  end
end
File.open(File.join(work, 'flag_actors.tsv'), 'w') do |io|
  configs.each do |c|
    c.actors.each { |a| io << copy_line(c.name, a, 'false') }
    c.opt_outs.each { |a| io << copy_line(c.name, a, 'true') }
  end
end
File.open(File.join(work, 'checks.tsv'), 'w') do |io|
  checks.each { |k| io << copy_line(k.id, k.flag, k.actor) }
end
out = File.join(work, 'results.tsv')
stats = File.join(work, 'stats.tsv')
File.write(File.join(work, 'run.sql'), <<~SQL)
  \\set ON_ERROR_STOP 1
  BEGIN;
  \\copy modelflags.flags (name, enabled, percentage_of_actors, percentage_of_time, default_enabled) from '#{work}/flags.tsv'
  \\copy modelflags.flag_actors (flag, actor, opt_out) from '#{work}/flag_actors.tsv'
  INSERT INTO modelflags.flags (name, percentage_of_time) VALUES
      ('compat_time_50', 50), ('compat_time_2_5', 2.5), ('compat_time_97_125', 97.125);
  COMMIT;
  CREATE TEMP TABLE checks (id integer PRIMARY KEY, flag text NOT NULL, actor text);
  \\copy checks from '#{work}/checks.tsv'
  \\copy (SELECT c.id, modelflags.is_enabled(c.flag, c.actor), CASE WHEN c.actor IS NOT NULL THEN modelflags.rollout_pct(c.flag, c.actor) END, CASE WHEN c.actor IS NOT NULL THEN (modelflags.rollout_pct(c.flag, c.actor) * 1000)::float8 < f.percentage_of_actors::float8 * 1000 END FROM checks c LEFT JOIN modelflags.flags f ON f.name = c.flag ORDER BY c.id) to '#{out}'
  \\copy (SELECT f, count(*) FILTER (WHERE modelflags.is_enabled(f, CASE WHEN i % 2 = 0 THEN NULL ELSE 'User:' || i END)) FROM unnest(ARRAY['compat_time_50', 'compat_time_2_5', 'compat_time_97_125']) f, generate_series(1, 20000) i GROUP BY f) to '#{stats}'
SQL

t_sql = Process.clock_gettime(Process::CLOCK_MONOTONIC)
sql_out, status = Open3.capture2e('psql', '-X', '-q', '-f', File.join(work, 'run.sql'))
t_sql = Process.clock_gettime(Process::CLOCK_MONOTONIC) - t_sql
unless status.success?
  puts sql_out
  puts 'FAIL: flipper compatibility (loading or evaluating in PostgreSQL failed; see above)'
  puts "work directory kept: #{work}"
  exit 1
end

results = {}
File.foreach(out, chomp: true) do |line|
  id, en, pct, below = line.split("\t", -1)
  results[Integer(id)] = [en == 't', copy_unescape(pct), copy_unescape(below)]
end

# ---------------------------------------------------------------------------
# Compare

def describe(k, got)
  c = k.cfg
  gates = c ? "enabled=#{c.enabled.inspect} pct_actors=#{c.pct_actors.inspect} pct_time=#{c.pct_time.inspect} " \
              "default_enabled=#{c.default_enabled} persisted=#{c.persisted} actors=#{c.actors.size} " \
              "opt_outs=#{c.opt_outs.size} history=#{c.history.inspect}" : 'unknown flag'
  "  #{k.part} flag=#{k.flag[0, 60].inspect} actor=#{k.actor&.slice(0, 60).inspect}: " \
    "expected #{k.expected}, modelflags #{got.inspect}\n    #{gates}\n" \
    "    SELECT modelflags.is_enabled(#{sql_lit(k.flag)}, #{k.actor ? sql_lit(k.actor) : 'NULL'});"
end

def sql_lit(s) = "'#{s.gsub("'", "''")}'"

ok = true
report = lambda do |label, total, bad|
  if bad.empty?
    puts "PASS: #{label} (#{total} decisions)"
  else
    ok = false
    puts "FAIL: #{label}: #{bad.size} of #{total} decisions differ; first ones:"
    bad.first(8).each { |line| puts line }
  end
end

missing = checks.reject { |k| results.key?(k.id) }
unless missing.empty?
  puts "FAIL: flipper compatibility: #{missing.size} checks have no result"
  exit 1
end

by_part = checks.group_by(&:part)
[[:flipper, 'flipper compatibility: is_enabled = Flipper::Feature#enabled? ' \
            "(flipper #{Flipper::VERSION}, #{N_FLIPPER} random configurations + #{UNKNOWN.size} unknown flags)"],
 [:gitlab, 'GitLab wrapper (re-implemented from lib/feature.rb): is_enabled = Feature.enabled? with ' \
           "default_enabled and opt-out (#{N_GITLAB} configurations)"],
 [:boundary, 'flipper compatibility at exact rollout boundaries (actors at position p*1000-1, p*1000, p*1000+1)']]
  .each do |part, label|
  list = by_part.fetch(part, [])
  bad = list.reject { |k| results[k.id][0] == k.expected }.map { |k| describe(k, results[k.id][0]) }
  report.call(label, list.size, bad)
end

# Raw CRC: rollout_pct * 1000 is exactly Zlib.crc32(flag + actor) % 100000.
crc_bad = []
crc_total = 0
checks.each do |k|
  next if k.actor.nil?
  crc_total += 1
  want = Zlib.crc32(k.flag + k.actor) % 100_000
  got = results[k.id][1]
  thousandths = got && got.match?(/\A\d+\.\d{3}\z/) ? got.delete('.').to_i : nil
  next if thousandths == want
  crc_bad << "  flag=#{k.flag[0, 60].inspect} actor=#{k.actor[0, 60].inspect}: rollout_pct=#{got.inspect}, " \
             "Zlib.crc32 % 100000 = #{want}"
end
report.call('raw CRC: rollout_pct(flag, actor) * 1000 = Zlib.crc32(flag + actor) % 100000', crc_total, crc_bad)

# SPEC H: an actor is in at p when rollout_pct * 1000 < p * 1000, with p * 1000
# computed in floating point as Flipper does (for 731 three-decimal p the
# product lands a hair above the integer, so the actor at exactly p * 1000 is
# in).  Checked against Flipper's gate asked directly
# (Flipper::Gates::PercentageOfActors#open?).
pct_gate = Flipper::Gates::PercentageOfActors.new
below_bad = []
below_total = 0
checks.each do |k|
  next if k.actor.nil? || k.cfg.nil? || k.cfg.pct_actors.nil?
  below_total += 1
  ctx = Flipper::FeatureCheckContext.new(
    feature_name: k.flag,
    values: Flipper::GateValues.new(percentage_of_actors: k.cfg.pct_actors),
    thing: Flipper::Types::Actor.wrap(actor(k.actor))
  )
  want = pct_gate.open?(ctx)
  got = results[k.id][2] == 't'
  next if got == want
  below_bad << "  flag=#{k.flag[0, 60].inspect} actor=#{k.actor[0, 60].inspect} p=#{k.cfg.pct_actors}: " \
               "rollout_pct=#{results[k.id][1]} < p is #{got}, Flipper's gate says #{want}"
end
report.call("rollout_pct * 1000 < p::float8 * 1000 = Flipper's percentage_of_actors gate",
            below_total, below_bad)

# percentage_of_time, statistically: 20000 calls each, within 5 standard deviations.
time_bad = []
File.foreach(stats, chomp: true) do |line|
  flag, count = line.split("\t")
  p = { 'compat_time_50' => 50.0, 'compat_time_2_5' => 2.5, 'compat_time_97_125' => 97.125 }.fetch(flag) / 100
  n = 20_000
  mean = n * p
  sd = Math.sqrt(n * p * (1 - p))
  # Flipper's own gate, drawn the same number of times, must pass the same bound
  fl = FLIPPER["#{flag}_flipper"]
  fl.enable_percentage_of_time((p * 100).to_s)
  fcount = n.times.count { |i| fl.enabled?(i.even? ? nil : actor("User:#{i}")) }
  [['modelflags', count.to_i], ['Flipper', fcount]].each do |who, c|
    next if (c - mean).abs <= 5 * sd
    time_bad << "  #{who} #{flag}: #{c} of #{n} enabled, expected #{mean.round} +- #{(5 * sd).round}"
  end
end
report.call('percentage_of_time 50 / 2.5 / 97.125 statistically (20000 calls each, modelflags and Flipper)',
            3, time_bad)

# What the random sweep exercised: the gate that opened each true decision
# (asked of Flipper's own gates, in its order), opt-outs and defaults.
def opening_gate(flipper, name, id)
  feature = flipper[name]
  thing = id && feature.gate(:actor).wrap(actor(id))
  ctx = Flipper::FeatureCheckContext.new(feature_name: name, values: feature.gate_values, thing: thing)
  feature.gates.detect { |g| g.open?(ctx) }&.name
end
cover = Hash.new(0)
checks.each do |k|
  next if k.cfg.nil? || k.part == :boundary
  cover["#{k.part} #{k.expected}"] += 1
  cover["#{k.part} nil actor"] += 1 if k.actor.nil?
  if k.part == :flipper
    cover["opened by #{opening_gate(FLIPPER, k.flag, k.actor)}"] += 1 if k.expected
  elsif !k.cfg.persisted
    cover["gitlab not persisted, default_enabled=#{k.cfg.default_enabled}"] += 1
  elsif k.actor && k.cfg.opt_outs.include?(k.actor)
    cover["gitlab opted out, flipper alone says #{GITLAB[k.flag].enabled?(actor(k.actor))}"] += 1
  end
end
cover['configs with > 32 actor rows (cache Bloom path)'] = configs.count { |c| c.actors.size + c.opt_outs.size > 32 }
puts "coverage: #{cover.sort.map { |key, n| "#{key}: #{n}" }.join('; ')}"

total = checks.size
elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC) - T0
puts format('%d decisions compared (%d Flipper, %d GitLab wrapper, %d boundary), seed %d, %.1fs (SQL %.1fs)',
            total, by_part.fetch(:flipper, []).size, by_part.fetch(:gitlab, []).size,
            by_part.fetch(:boundary, []).size, SEED, elapsed, t_sql)
if ENV['FLIPPER_COMPAT_KEEP'] || !ok
  puts "work directory kept: #{work}"
else
  FileUtils.rm_rf(work)
end
exit(ok ? 0 : 1)
