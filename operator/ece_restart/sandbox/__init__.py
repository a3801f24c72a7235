"""The Kubernetes API sandbox: a strict, in-memory stand-in for kube-apiserver, served on 127.0.0.1.

No cluster can run where this project is built and tested, yet the operator must meet the real Kopf runtime and
the real kubectl. The sandbox speaks the parts of the Kubernetes API they use, with the apiserver's semantics:
discovery and OpenAPI v3; core namespaces, secrets, configmaps, events (also as events.k8s.io), coordination
leases, CRDs and the custom resources they define; list/watch with one global resourceVersion, bookmarks,
selectors and 410 Expired; create (generateName), get, update (409 on stale resourceVersion), delete with
finalizers, merge/JSON/strategic-merge patches and an approximation of server-side apply; status subresource
separation and generation bumps on spec changes; CRD schema pruning, defaulting, validation and CEL rules; Tables
from printer columns; a request log and fault switches. Any bearer token is accepted: no RBAC, no admission
webhooks, no aggregated APIs, no pods or controllers.

In-process use::

    from ece_restart.sandbox import Sandbox

    sandbox = Sandbox()                                   # serves the ResourceRestart CRD; Sandbox(crds=[...])
    async with sandbox.serving(port=0) as url: ...        # inside a running event loop
    with sandbox.serving_in_thread(port=0) as url: ...    # own loop in a thread (sync tests; Kopf via KopfRunner)
    sandbox.write_kubeconfig(path)                        # server http://127.0.0.1:PORT, any bearer token
    sandbox.requests                                      # [RequestRecord(method, path, verb, resource, ...)]
    sandbox.get("resourcerestarts", "x", namespace="ns", group="eceops.io")   # deep copy or None
    sandbox.create(body) / sandbox.patch(...) / sandbox.delete(...) / sandbox.create_namespace("ns")
    sandbox.faults.fail_next(2, status=503, resource="resourcerestarts", subresource="status")
    sandbox.faults.drop_watches() / sandbox.faults.holding() / sandbox.faults.refusing()
    sandbox.bookmark_watches() / sandbox.compact()

From a shell: `ece-restart-operator sandbox --port 8080 --kubeconfig ./sandbox.kubeconfig`.
"""

from ece_restart.sandbox.errors import ApiError
from ece_restart.sandbox.faults import FaultRule, Faults
from ece_restart.sandbox.requestlog import RequestRecord
from ece_restart.sandbox.runtime import Sandbox

__all__ = ["ApiError", "FaultRule", "Faults", "RequestRecord", "Sandbox"]
