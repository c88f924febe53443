"""The runbooks the product's runbooks carry: the three "Common Runbooks" and the "Common
Scenarios" lists, written as steps. Managers link them to services and own them afterwards;
this only seeds a new installation and never overwrites a runbook that exists."""

from django.db import migrations
from django.utils import timezone

RUNBOOKS = [
    {
        "title": "Database connection pool exhaustion",
        "summary": "The application cannot get database connections: the pool is exhausted.",
        "when_to_use": "Errors such as 'too many connections' or 'connection pool timeout'; "
        "requests hang waiting for a connection.",
        "tags": "database, postgres, pgbouncer, connections",
        "steps": [
            ("Check current connections", "", "SELECT count(*) FROM pg_stat_activity;"),
            (
                "Identify long-running queries",
                "",
                "SELECT * FROM pg_stat_activity WHERE state = 'active' ORDER BY query_start;",
            ),
            ("Kill idle connections older than 10 minutes", "", ""),
            ("Verify PgBouncer pool settings", "", ""),
            ("Check for connection leaks in application logs", "", ""),
        ],
    },
    {
        "title": "Kafka consumer lag",
        "summary": "Consumers fall behind the producers; messages are processed late.",
        "when_to_use": "Consumer lag alerts; delayed emails, webhooks or other asynchronous work.",
        "tags": "kafka, consumers, lag, queue",
        "steps": [
            ("Check consumer group lag", "", "kafka-consumer-groups --describe --group <group>"),
            ("Verify consumer health in the Grafana dashboard", "", ""),
            ("Check for poison messages in the dead letter queue", "", ""),
            ("Scale consumer instances if processing throughput is the bottleneck", "", ""),
            ("Verify schema compatibility if deserialization errors are present", "", ""),
        ],
    },
    {
        "title": "Memory pressure on Kubernetes pods",
        "summary": "Pods use more memory than expected: restarts, OOM kills, evictions.",
        "when_to_use": "OOMKilled pods, memory alerts, pods restarting in a loop.",
        "tags": "kubernetes, memory, pods, oom",
        "steps": [
            ("Check pod memory usage", "", "kubectl top pods -n <namespace>"),
            ("Review recent deployments for a memory regression", "", ""),
            ("Check for memory leaks using a heap profiler", "", ""),
            ("Adjust resource limits if the growth is expected", "", ""),
            ("Consider the horizontal pod autoscaler (HPA) configuration", "", ""),
        ],
    },
    {
        "title": "Database issues",
        "summary": "General checks when a database misbehaves.",
        "when_to_use": "Database errors, slow queries, replication or storage alerts.",
        "tags": "database, common scenario",
        "steps": [
            ("Check connection pools", "", ""),
            ("Review query performance", "", ""),
            ("Verify backup status", "", ""),
            ("Consider failover options", "", ""),
        ],
    },
    {
        "title": "API failures",
        "summary": "General checks when an API returns errors.",
        "when_to_use": "5xx rates up, failing health checks, clients reporting errors.",
        "tags": "api, http, common scenario",
        "steps": [
            ("Check service health", "", ""),
            ("Review error logs", "", ""),
            ("Verify dependencies", "", ""),
            ("Check rate limiting", "", ""),
        ],
    },
    {
        "title": "Performance degradation",
        "summary": "General checks when things get slow.",
        "when_to_use": "Latency alerts, timeouts, users reporting slowness.",
        "tags": "performance, latency, common scenario",
        "steps": [
            ("Analyze metrics", "", ""),
            ("Check resource usage", "", ""),
            ("Review recent deployments", "", ""),
            ("Identify bottlenecks", "", ""),
        ],
    },
]


def seed(apps, schema_editor):
    Runbook = apps.get_model("incidents", "Runbook")
    RunbookStep = apps.get_model("incidents", "RunbookStep")
    RunbookVersion = apps.get_model("incidents", "RunbookVersion")
    now = timezone.now()
    for row in RUNBOOKS:
        if Runbook.objects.filter(title=row["title"]).exists():
            continue
        runbook = Runbook.objects.create(
            title=row["title"],
            summary=row["summary"],
            when_to_use=row["when_to_use"],
            tags=row["tags"],
        )
        steps = [
            {"position": n, "title": title, "body": body, "command": command}
            for n, (title, body, command) in enumerate(row["steps"], start=1)
        ]
        RunbookStep.objects.bulk_create(RunbookStep(runbook=runbook, **step) for step in steps)
        RunbookVersion.objects.create(
            runbook=runbook,
            number=1,
            title=runbook.title,
            summary=runbook.summary,
            when_to_use=runbook.when_to_use,
            steps=steps,
            created_at=now,
        )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0007_runbooks")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
