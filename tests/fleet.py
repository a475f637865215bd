"""Helpers to run a local EC2 endpoint and put instances in it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from offhours.local import IamLab, LocalEndpoint
from offhours.state import fingerprint
from tests import iam

AMI = "ami-12c6146b"  # one of moto's built-in images (EBS root)


@dataclass
class MotoEndpoint(LocalEndpoint):
    """The tests' endpoint: moto on loopback, whose IAM holds the stack's policies
    (`tests.iam`); authorization is switched on by the `iam` fixture of `tests.harness`."""

    lab: IamLab | None = None

    @classmethod
    def start(cls) -> MotoEndpoint:
        endpoint = super().start()
        assert isinstance(endpoint, MotoEndpoint)
        endpoint.lab = iam.install(endpoint)
        return endpoint

    def stop(self) -> None:
        iam.uninstall()
        super().stop()


class Fleet:
    """Creates tagged instances through the EC2 API, as a person or a pipeline would."""

    def __init__(self, ec2: Any, tag_key: str = "Schedule") -> None:
        self.ec2 = ec2
        self.tag_key = tag_key
        self.fp_key = f"{tag_key}:offhours-fingerprint"

    def launch(
        self,
        schedule: str | None = None,
        *,
        state: str = "running",
        name: str = "",
        handled: str | None = None,
        tags: dict[str, str] | None = None,
        count: int = 1,
        fingerprinted: bool = False,
        **run_args: Any,
    ) -> list[str]:
        """Launch `count` instances. `handled` is the state tag's A; `fingerprinted` writes
        each instance's own fingerprint too, as offhours does (without it, the state is as an
        earlier version left it)."""
        all_tags = dict(tags or {})
        if schedule is not None:
            all_tags[self.tag_key] = schedule
        if name:
            all_tags["Name"] = name
        if handled is not None:
            all_tags[f"{self.tag_key}:offhours-handled"] = handled
        args: dict[str, Any] = {"ImageId": AMI, "MinCount": count, "MaxCount": count, **run_args}
        if all_tags:
            args["TagSpecifications"] = [
                {
                    "ResourceType": "instance",
                    "Tags": [{"Key": k, "Value": v} for k, v in all_tags.items()],
                }
            ]
        ids = [i["InstanceId"] for i in self.ec2.run_instances(**args)["Instances"]]
        if fingerprinted and schedule is not None:
            for instance_id in ids:
                self.ec2.create_tags(
                    Resources=[instance_id],
                    Tags=[{"Key": self.fp_key, "Value": fingerprint(instance_id, schedule)}],
                )
        if state == "stopped":
            self.ec2.stop_instances(InstanceIds=ids)
        return ids

    def one(self, schedule: str | None = None, **kwargs: Any) -> str:
        return self.launch(schedule, **kwargs)[0]

    def state(self, instance_id: str) -> str:
        return str(self.describe(instance_id)["State"]["Name"])

    def tags(self, instance_id: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self.describe(instance_id).get("Tags", [])}

    def handled(self, instance_id: str) -> str | None:
        return self.tags(instance_id).get(f"{self.tag_key}:offhours-handled")

    def anchor(self, instance_id: str) -> str | None:
        """A, the instant of the state tag (its first word)."""
        value = self.handled(instance_id)
        return value.split()[0] if value else value

    def fingerprint(self, instance_id: str) -> str | None:
        return self.tags(instance_id).get(self.fp_key)

    def describe(self, instance_id: str) -> Any:
        response = self.ec2.describe_instances(InstanceIds=[instance_id])
        return response["Reservations"][0]["Instances"][0]

    def start(self, instance_id: str) -> None:
        self.ec2.start_instances(InstanceIds=[instance_id])

    def stop(self, instance_id: str) -> None:
        self.ec2.stop_instances(InstanceIds=[instance_id])

    def terminate(self, instance_id: str) -> None:
        self.ec2.terminate_instances(InstanceIds=[instance_id])
