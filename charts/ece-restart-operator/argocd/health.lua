-- Argo CD health check for eceops.io/ResourceRestart (ece-restart-operator).
-- Install: argocd-cm key resource.customizations.health.eceops.io_ResourceRestart (see README.md next to this file).
--
--   Progressing  no status yet, status older than the spec (metadata.generation not yet observed),
--                a finished run of an earlier restartToken (a new run is due),
--                or phase Pending, Requesting, Retrying or InProgress
--   Healthy      phase Succeeded (including AlreadyExecuted)
--   Degraded     phase Failed or Unknown (Unknown: the operator cannot tell whether ECE restarted; a human must check)
--
-- The message is "<outcome or phase>: <status.message>". Written for Lua 5.1 (Argo CD's gopher-lua).

local hs = { status = "Progressing", message = "Waiting for the operator to pick up this ResourceRestart" }

if obj.status == nil then
  return hs
end
local status = obj.status

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local function describe(label)
  local text = status.message
  if type(text) ~= "string" or text == "" then
    return label
  end
  return label .. ": " .. text
end

local phase = status.phase
local terminal = phase == "Succeeded" or phase == "Failed" or phase == "Unknown"

-- A terminal status whose token is not the spec's token belongs to an earlier run: a new run is due.
local token = ""
if obj.spec ~= nil and type(obj.spec.restartToken) == "string" then
  token = obj.spec.restartToken
end
if terminal and type(status.lastHandledToken) == "string" and status.lastHandledToken ~= token then
  hs.message = "Waiting for the run of restartToken '" .. token .. "' (the status shows the run of '" ..
    status.lastHandledToken .. "')"
  return hs
end

local outcome = status.outcome
if type(outcome) ~= "string" or outcome == "" then
  outcome = phase
end

if phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = describe(outcome)
  return hs
end
if phase == "Failed" or phase == "Unknown" then
  hs.status = "Degraded"
  hs.message = describe(outcome)
  return hs
end
if phase == "Pending" or phase == "Requesting" or phase == "Retrying" or phase == "InProgress" then
  hs.message = describe(phase)
  return hs
end

-- A phase this script does not know (a newer operator): follow the kstatus conditions.
if type(status.conditions) == "table" then
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Stalled" and condition.status == "True" then
      hs.status = "Degraded"
      hs.message = tostring(condition.reason) .. ": " .. tostring(condition.message)
      return hs
    end
  end
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Ready" and condition.status == "True" then
      hs.status = "Healthy"
      hs.message = tostring(condition.reason) .. ": " .. tostring(condition.message)
      return hs
    end
  end
end
hs.message = describe(tostring(phase or "no phase"))
return hs
