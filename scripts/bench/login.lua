-- wrk script: POST /login as many different users, counting status codes.
--
-- Environment (set by scripts/bench/run.sh):
--   BENCH_COOKIE      Cookie header value (drawbridge_csrf=...) from one GET /login
--   BENCH_CSRF        the form's hidden csrf value for that cookie
--   BENCH_USERS       number of users (logins user1..userN)
--   BENCH_POOL        number of distinct passwords: user n has password bench-pw-(n % POOL)
--   BENCH_RD          rd field (default /)
--   BENCH_STATUS_FILE if set, done() appends "status count" lines to it

local cookie = os.getenv("BENCH_COOKIE") or error("BENCH_COOKIE is not set")
local csrf = os.getenv("BENCH_CSRF") or error("BENCH_CSRF is not set")
local users = tonumber(os.getenv("BENCH_USERS") or "100000")
local pool = tonumber(os.getenv("BENCH_POOL") or "200")
local rd = os.getenv("BENCH_RD") or "/"

local function urlencode(s)
    return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = cookie,
}
local fixed = "&csrf=" .. urlencode(csrf) .. "&rd=" .. urlencode(rd)

-- Every wrk thread has its own Lua state; setup() runs in the main one.
local threads = {}
local next_id = 0
function setup(thread)
    next_id = next_id + 1
    thread:set("id", next_id)
    table.insert(threads, thread)
end

counts = {} -- global: done() reads it through thread:get("counts")
function init(args)
    math.randomseed(os.time() * 1000 + (id or 0) * 7919)
    for _ = 1, 10 do math.random() end
end

function request()
    local n = math.random(1, users)
    local body = "username=user" .. n .. "&password=bench-pw-" .. (n % pool) .. fixed
    return wrk.format("POST", "/login", headers, body)
end

function response(status, _, _)
    local key = tostring(status)
    counts[key] = (counts[key] or 0) + 1
end

function done(stats, latency, requests)
    local total = {}
    for _, thread in ipairs(threads) do
        for k, v in pairs(thread:get("counts") or {}) do
            total[k] = (total[k] or 0) + v
        end
    end
    local keys = {}
    for k in pairs(total) do table.insert(keys, k) end
    table.sort(keys)
    local out = os.getenv("BENCH_STATUS_FILE")
    local file = out and io.open(out, "a") or nil
    for _, k in ipairs(keys) do
        io.write(string.format("status %s: %d\n", k, total[k]))
        if file then file:write(string.format("%s %d\n", k, total[k])) end
    end
    if file then file:close() end
end
