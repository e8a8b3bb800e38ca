/**
 * What a lag monitor observes of the cluster: shapes shared by the Kafka lib, which reads them
 * (libs/kafka group-admin), and the pure lag evaluation, which judges them (libs/domain lag). They
 * live here because libs/domain may not depend on libs/kafka.
 */
export interface PartitionRef {
  topic: string;
  partition: number;
}

export interface GroupListing {
  groupId: string;
  state: string;
  protocolType: string;
}

export interface GroupMember {
  memberId: string;
  clientId: string;
  host: string;
  assignment: PartitionRef[];
}

export interface GroupDetail {
  groupId: string;
  state: string;
  members: GroupMember[];
  error?: string;
}

export interface CommittedOffset extends PartitionRef {
  offset: number;
}

export interface Watermark extends PartitionRef {
  /** Log start offset (first retained record). */
  low: number;
  /** The end a consumer of the admin's isolation level reaches: the last stable offset under read_committed, else the high watermark. */
  high: number;
  /** Last stable offset: the end a read_committed consumer reaches (the first offset of the oldest open transaction, or the high watermark when none is open). */
  lastStable: number;
  /** High watermark: the end a read_uncommitted consumer reaches (includes records of open transactions). */
  highWatermark: number;
}
