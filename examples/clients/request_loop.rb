#!/usr/bin/ruby
# The modelflags request loop in Ruby: model_for -> call the model -> report.
#
# Uses the pg gem (Debian's ruby-pg) and the standard library only.
#
#     ruby examples/clients/request_loop.rb --dsn "dbname=app" \
#         --llm http://127.0.0.1:8080 --feature code_generations --requests 20
#
# Each request asks modelflags which model to use, calls it (here: an HTTP
# API at --llm, POST {llm}/{provider}/v1/complete), and reports the outcome
# and the latency.  When the model keeps failing, its circuit breaker opens
# and model_for answers with the next route, with no human in the loop;
# after the cool-down a few probe calls go back to it, and their reports
# close it again.  The service needs EXECUTE on modelflags.report (see
# README, "Health").
require 'json'
require 'net/http'
require 'optparse'
require 'pg'

# An HTTP status as a modelflags outcome.
def classify(status)
  case status
  when 200..299 then 'ok'
  when 429, 529 then 'rate_limited'
  when 408, 504 then 'timeout'
  when 400..499 then 'client_error' # our mistake: never counts against the model
  else 'error'
  end
end

# Calls the model; returns [outcome, text].
def call_model(llm, provider, params, prompt, timeout)
  uri = URI("#{llm}/#{provider}/v1/complete")
  http = Net::HTTP.new(uri.host, uri.port)
  http.open_timeout = timeout
  http.read_timeout = timeout
  res = http.post(uri.path, JSON.generate(params: params, prompt: prompt),
                  'Content-Type' => 'application/json')
  outcome = classify(res.code.to_i)
  [outcome, outcome == 'ok' ? JSON.parse(res.body)['text'] : '']
rescue Net::OpenTimeout, Net::ReadTimeout
  ['timeout', '']
rescue SystemCallError, IOError, SocketError
  ['error', ''] # connection refused, reset: the provider's side
end

# One request: which model, call it, report how it went.
def handle(conn, llm, feature, actor, prompt, timeout = 30)
  row = conn.exec_params(
    'SELECT model, provider, params, degraded FROM modelflags.model_for($1, $2)',
    [feature, actor]
  ).first
  start = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  outcome, text = call_model(llm, row['provider'], JSON.parse(row['params']), prompt, timeout)
  latency_ms = (Process.clock_gettime(Process::CLOCK_MONOTONIC) - start) * 1000.0
  conn.exec_params('SELECT modelflags.report($1, $2, $3, $4)',
                   [feature, row['model'], outcome, latency_ms])
  [row['model'], outcome, row['degraded'] == 't', text]
end

if $PROGRAM_NAME == __FILE__
  opts = { feature: 'code_generations', actor: 'User:42', requests: 20, interval: 0.1 }
  OptionParser.new do |o|
    o.on('--dsn DSN') { |v| opts[:dsn] = v }
    o.on('--llm URL', 'base URL of the LLM API') { |v| opts[:llm] = v }
    o.on('--feature NAME') { |v| opts[:feature] = v }
    o.on('--actor ACTOR') { |v| opts[:actor] = v }
    o.on('--requests N', Integer) { |v| opts[:requests] = v }
    o.on('--interval SECONDS', Float) { |v| opts[:interval] = v }
  end.parse!
  abort 'usage: request_loop.rb --dsn DSN --llm URL [...]' unless opts[:dsn] && opts[:llm]

  # Each statement is its own transaction (no BEGIN): every request sees the
  # breakers (and the routing tables) as they are now.
  conn = PG.connect(opts[:dsn])
  begin
    (1..opts[:requests]).each do |i|
      model, outcome, degraded, = handle(conn, opts[:llm], opts[:feature], opts[:actor], "request #{i}")
      puts "request #{i} model=#{model} outcome=#{outcome} degraded=#{degraded}"
      $stdout.flush
      sleep opts[:interval]
    end
  ensure
    conn.close
  end
end
