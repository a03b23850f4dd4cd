"""initial"""
# Generated from a schema diff on 2026-11-28 03:21.
from peewee import *
from node.db import JsonText

def up(migrator, db):
    class Unit(Model):
        code = CharField(unique=True, max_length=32)
        name = CharField(max_length=100)
        parent = ForeignKeyField('self', null=True, on_delete='RESTRICT')
        region_code = CharField(index=True, max_length=6)
        kind = CharField(max_length=20, default='department')
        phone = CharField(max_length=40, default='')
        address = CharField(max_length=200, default='')
        active = BooleanField(default=True)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'unit'
    db.create_tables([Unit])

    class User(Model):
        username = CharField(unique=True, max_length=40)
        display_name = CharField(max_length=40)
        password_hash = CharField(max_length=200)
        roles = CharField(max_length=200)
        unit = ForeignKeyField(Unit, null=True, on_delete='RESTRICT')
        seat = CharField(max_length=20, default='')
        phone = CharField(max_length=40, default='')
        active = BooleanField(default=True)
        failed_logins = IntegerField(default=0)
        locked_until = DateTimeField(null=True)
        last_login_at = DateTimeField(null=True)
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'user'
    db.create_tables([User])

    class Agent(Model):
        user = ForeignKeyField(User, unique=True, on_delete='CASCADE')
        extension = CharField(unique=True, max_length=20)
        state = CharField(index=True, max_length=12, default='offline')
        reason = CharField(max_length=60, default='')
        state_since = DateTimeField()
        idle_since = DateTimeField(null=True)
        wrapup_until = DateTimeField(null=True)
        current_call = CharField(max_length=32, default='')
        sip_ha1 = CharField(max_length=32, default='')
        class Meta:
            database = db
            table_name = 'agent'
    db.create_tables([Agent])

    class AgentStateLog(Model):
        agent = ForeignKeyField(Agent, on_delete='CASCADE')
        state = CharField(max_length=12)
        previous = CharField(max_length=12, default='')
        reason = CharField(max_length=60, default='')
        call_uuid = CharField(max_length=32, default='')
        at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'agent_state_log'
    db.create_tables([AgentStateLog])

    class ApiToken(Model):
        user = ForeignKeyField(User, on_delete='CASCADE')
        name = CharField(max_length=60)
        token_hash = CharField(unique=True, max_length=64)
        prefix = CharField(max_length=12)
        created_at = DateTimeField()
        expires_at = DateTimeField(null=True)
        last_used_at = DateTimeField(null=True)
        revoked = BooleanField(default=False)
        class Meta:
            database = db
            table_name = 'api_token'
    db.create_tables([ApiToken])

    class WorkOrder(Model):
        number = CharField(unique=True, max_length=21)
        origin_node = CharField(max_length=6)
        external_number = CharField(index=True, max_length=40, default='')
        parent = ForeignKeyField('self', null=True, on_delete='RESTRICT')
        master = ForeignKeyField('self', null=True, on_delete='RESTRICT')
        contact_id = IntegerField(null=True)
        channel = CharField(max_length=2)
        business_type = CharField(index=True, max_length=2)
        domain = CharField(index=True, max_length=2, default='')
        sub_business = CharField(max_length=4, default='')
        road_class = CharField(max_length=12, default='')
        region_code = CharField(index=True, max_length=6)
        address = CharField(max_length=200, default='')
        latitude = FloatField(null=True)
        longitude = FloatField(null=True)
        respondent_name = CharField(max_length=100, default='')
        respondent_plate = CharField(index=True, max_length=20, default='')
        respondent_route = CharField(max_length=60, default='')
        respondent_vessel = CharField(max_length=60, default='')
        title = CharField(max_length=100)
        content = TextField()
        priority = CharField(max_length=10, default='normal')
        caller_phone_cipher = TextField(default='')
        caller_phone_digest = CharField(index=True, max_length=32, default='')
        caller_phone_masked = CharField(max_length=24, default='')
        contact_phone_cipher = TextField(default='')
        contact_phone_masked = CharField(max_length=24, default='')
        caller_name = CharField(max_length=40, default='')
        confidential = BooleanField(default=False)
        anonymous = BooleanField(default=False)
        query_code = CharField(max_length=8)
        state = CharField(index=True, max_length=20)
        agent = ForeignKeyField(User, null=True, on_delete='SET NULL')
        call_id = CharField(index=True, max_length=100, default='')
        recording_ref = CharField(max_length=200, default='')
        accepted_at = DateTimeField(index=True)
        due_at = DateTimeField(index=True, null=True)
        dispatched_at = DateTimeField(null=True)
        replied_at = DateTimeField(null=True)
        closed_at = DateTimeField(index=True, null=True)
        archived_at = DateTimeField(null=True)
        immediate_answer = TextField(default='')
        result_basic = TextField(default='')
        result_process = TextField(default='')
        result_basis = TextField(default='')
        return_count = IntegerField(default=0)
        reopen_count = IntegerField(default=0)
        extension_days = IntegerField(default=0)
        callback_method = CharField(max_length=10, default='')
        callback_at = DateTimeField(null=True)
        callback_result_satisfaction = CharField(max_length=1, default='')
        callback_service_satisfaction = CharField(max_length=1, default='')
        callback_note = TextField(default='')
        public_result_satisfaction = CharField(max_length=1, default='')
        public_service_satisfaction = CharField(max_length=1, default='')
        is_spot_check = BooleanField(default=False)
        search_text = TextField(default='')
        version = IntegerField(default=1)
        created_at = DateTimeField()
        updated_at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'work_order'
            indexes = ((('state', 'due_at'), False), (('state', 'accepted_at'), False), (('business_type', 'accepted_at'), False))
    db.create_tables([WorkOrder])

    class Assignment(Model):
        order = ForeignKeyField(WorkOrder, on_delete='CASCADE')
        unit = ForeignKeyField(Unit, on_delete='RESTRICT')
        role = CharField(max_length=6)
        status = CharField(max_length=12, default='dispatched')
        active = BooleanField(index=True, default=True)
        dispatched_at = DateTimeField()
        dispatched_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        sign_due_at = DateTimeField()
        signed_at = DateTimeField(null=True)
        signed_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        due_at = DateTimeField(null=True)
        replied_at = DateTimeField(null=True)
        reply = TextField(default='')
        class Meta:
            database = db
            table_name = 'assignment'
            indexes = ((('unit', 'active'), False),)
    db.create_tables([Assignment])

    class BusinessType(Model):
        code = CharField(primary_key=True, max_length=2)
        name = CharField(max_length=20)
        class Meta:
            database = db
            table_name = 'business_type'
    db.create_tables([BusinessType])

    class CalendarOverride(Model):
        day = DateField(unique=True)
        is_workday = BooleanField()
        note = CharField(max_length=60, default='')
        class Meta:
            database = db
            table_name = 'calendar_override'
    db.create_tables([CalendarOverride])

    class Call(Model):
        uuid = CharField(unique=True, max_length=32)
        direction = CharField(max_length=8, default='inbound')
        engine = CharField(index=True, max_length=40)
        sip_call_id = CharField(max_length=200, default='')
        caller_cipher = TextField(default='')
        caller_digest = CharField(index=True, max_length=32, default='')
        caller_masked = CharField(max_length=24, default='')
        dialed = CharField(max_length=40, default='')
        state = CharField(index=True, max_length=10, default='ivr')
        business = CharField(max_length=2, default='')
        keys = CharField(max_length=200, default='')
        queue_priority = IntegerField(default=0)
        started_at = DateTimeField(index=True)
        ivr_answered_at = DateTimeField(null=True)
        queued_at = DateTimeField(null=True)
        offered_at = DateTimeField(null=True)
        answered_at = DateTimeField(null=True)
        bridged_at = DateTimeField(null=True)
        agent_ended_at = DateTimeField(null=True)
        ended_at = DateTimeField(null=True)
        agent = ForeignKeyField(Agent, null=True, on_delete='SET NULL')
        end_reason = CharField(max_length=16, default='')
        abandoned = BooleanField(default=False)
        order_number = CharField(index=True, max_length=21, default='')
        contact_id = IntegerField(null=True)
        class Meta:
            database = db
            table_name = 'call'
    db.create_tables([Call])

    class CallbackTask(Model):
        call = ForeignKeyField(Call, on_delete='CASCADE')
        number_cipher = TextField()
        number_digest = CharField(index=True, max_length=32)
        number_masked = CharField(max_length=24)
        business = CharField(max_length=2, default='')
        status = CharField(index=True, max_length=10, default='pending')
        attempts = IntegerField(default=0)
        created_at = DateTimeField(index=True)
        last_attempt_at = DateTimeField(null=True)
        outbound_call = CharField(max_length=32, default='')
        result = CharField(max_length=200, default='')
        class Meta:
            database = db
            table_name = 'callback_task'
    db.create_tables([CallbackTask])

    class CallEvent(Model):
        call = ForeignKeyField(Call, on_delete='CASCADE')
        seq = IntegerField()
        kind = CharField(index=True, max_length=16)
        at = DateTimeField(index=True)
        agent = ForeignKeyField(Agent, null=True, on_delete='SET NULL')
        data = JsonText(null=True)
        class Meta:
            database = db
            table_name = 'call_event'
            indexes = ((('call', 'seq'), True),)
    db.create_tables([CallEvent])

    class CategoryChoice(Model):
        order_number = CharField(index=True, max_length=40)
        kind = CharField(max_length=20)
        suggested = CharField(max_length=20, default='')
        confidence = FloatField(null=True)
        chosen = CharField(max_length=20)
        model_version = IntegerField(null=True)
        decided_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        decided_at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'category_choice'
            indexes = ((('order_number', 'kind'), True),)
    db.create_tables([CategoryChoice])

    class Channel(Model):
        code = CharField(primary_key=True, max_length=2)
        name = CharField(max_length=20)
        class Meta:
            database = db
            table_name = 'channel'
    db.create_tables([Channel])

    class Contact(Model):
        channel = CharField(max_length=2)
        started_at = DateTimeField(index=True)
        ended_at = DateTimeField(null=True)
        agent = ForeignKeyField(User, null=True, on_delete='SET NULL')
        caller_phone_cipher = TextField(default='')
        caller_phone_digest = CharField(index=True, max_length=32, default='')
        caller_phone_masked = CharField(max_length=24, default='')
        caller_name = CharField(max_length=40, default='')
        summary = TextField(default='')
        outcome = CharField(index=True, max_length=16, default='pending')
        outcome_note = TextField(default='')
        order_number = CharField(index=True, max_length=21, default='')
        transfer_target = CharField(max_length=60, default='')
        call_id = CharField(index=True, max_length=100, default='')
        recording_ref = CharField(max_length=200, default='')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'contact'
    db.create_tables([Contact])

    class Domain(Model):
        code = CharField(primary_key=True, max_length=2)
        name = CharField(max_length=20)
        in_scope = BooleanField(default=True)
        referral_hotline = CharField(max_length=10, default='')
        class Meta:
            database = db
            table_name = 'domain'
    db.create_tables([Domain])

    class DuplicateDecision(Model):
        order_number = CharField(index=True, max_length=40)
        candidate_number = CharField(max_length=40)
        is_duplicate = BooleanField()
        score = FloatField(null=True)
        text_similarity = FloatField(null=True)
        rank = IntegerField(null=True)
        reasons = JsonText(null=True)
        decided_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        decided_at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'duplicate_decision'
            indexes = ((('order_number', 'candidate_number'), True),)
    db.create_tables([DuplicateDecision])

    class Engine(Model):
        name = CharField(unique=True, max_length=40)
        sip_port = IntegerField(default=0)
        control_port = IntegerField(default=0)
        pid = IntegerField(null=True)
        status = CharField(max_length=12, default='stopped')
        started_at = DateTimeField(null=True)
        heartbeat_at = DateTimeField(index=True, null=True)
        class Meta:
            database = db
            table_name = 'engine'
    db.create_tables([Engine])

    class Extension(Model):
        order = ForeignKeyField(WorkOrder, on_delete='CASCADE')
        unit = ForeignKeyField(Unit, on_delete='RESTRICT')
        days = IntegerField()
        reason = TextField()
        requested_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        requested_at = DateTimeField()
        status = CharField(max_length=10, default='pending')
        decided_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        decided_at = DateTimeField(null=True)
        decision_note = TextField(default='')
        old_due_at = DateTimeField(null=True)
        new_due_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'extension'
    db.create_tables([Extension])

    class InboxMessage(Model):
        origin = CharField(max_length=6)
        message_id = CharField(max_length=64)
        destination = CharField(max_length=6)
        payload_type = CharField(max_length=80)
        via = CharField(max_length=6)
        relayed = BooleanField(default=False)
        envelope = BlobField()
        received_at = DateTimeField(index=True)
        status = CharField(index=True, max_length=10, default='received')
        attempts = IntegerField(default=0)
        error = TextField(default='')
        processed_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'inbox_message'
            indexes = ((('origin', 'message_id'), True),)
    db.create_tables([InboxMessage])

    class IvrMenu(Model):
        key = CharField(unique=True, max_length=40)
        title = CharField(max_length=60)
        prompt = TextField()
        prompt_file = CharField(max_length=60, default='')
        options = JsonText()
        timeout_s = IntegerField(default=8)
        max_retries = IntegerField(default=2)
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'ivr_menu'
    db.create_tables([IvrMenu])

    class JobRun(Model):
        job = CharField(max_length=40)
        slot = CharField(max_length=40)
        started_at = DateTimeField()
        finished_at = DateTimeField(null=True)
        status = CharField(max_length=10, default='running')
        detail = TextField(default='')
        class Meta:
            database = db
            table_name = 'job_run'
            indexes = ((('job', 'slot'), True),)
    db.create_tables([JobRun])

    class KnowledgeBulletin(Model):
        bulletin_id = CharField(unique=True, max_length=40)
        issuer = CharField(max_length=6)
        origin = CharField(max_length=6)
        scope = CharField(max_length=6)
        title = CharField(max_length=200)
        body = TextField()
        category = CharField(max_length=40, default='')
        tags = CharField(max_length=400, default='')
        effective_date = DateField(null=True)
        valid_until = DateTimeField(null=True)
        published_at = DateTimeField()
        revision = BigIntegerField(default=1)
        withdrawn = BooleanField(default=False)
        received_at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'knowledge_bulletin'
    db.create_tables([KnowledgeBulletin])

    class LoginAttempt(Model):
        username = CharField(index=True, max_length=40)
        address = CharField(index=True, max_length=64)
        at = DateTimeField(index=True)
        success = BooleanField()
        class Meta:
            database = db
            table_name = 'login_attempt'
    db.create_tables([LoginAttempt])

    class NodeKey(Model):
        key_id = CharField(unique=True, max_length=64)
        node = CharField(index=True, max_length=6)
        public_key = BlobField()
        valid_from_ms = BigIntegerField(default=0)
        valid_until_ms = BigIntegerField(default=0)
        active_from_ms = BigIntegerField(default=0)
        revoked = BooleanField(default=False)
        revoked_at = DateTimeField(null=True)
        source = CharField(max_length=12)
        notary = CharField(max_length=6, default='')
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'node_key'
    db.create_tables([NodeKey])

    class NodeReport(Model):
        node = CharField(max_length=6)
        report_date = DateField()
        revision = BigIntegerField()
        generated_at_ms = BigIntegerField(default=0)
        received_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'node_report'
            indexes = ((('node', 'report_date'), True), (('report_date',), False))
    db.create_tables([NodeReport])

    class OrderEvent(Model):
        order = ForeignKeyField(WorkOrder, on_delete='CASCADE')
        at = DateTimeField()
        actor = ForeignKeyField(User, null=True, on_delete='SET NULL')
        actor_name = CharField(max_length=40)
        node = CharField(max_length=6)
        action = CharField(max_length=20)
        from_state = CharField(max_length=20, default='')
        to_state = CharField(max_length=20, default='')
        reason = TextField(default='')
        data = JsonText(null=True)
        class Meta:
            database = db
            table_name = 'order_event'
    db.create_tables([OrderEvent])

    class OrderSequence(Model):
        key = CharField(primary_key=True, max_length=12)
        last = IntegerField(default=0)
        class Meta:
            database = db
            table_name = 'order_sequence'
    db.create_tables([OrderSequence])

    class OutboxMessage(Model):
        origin = CharField(max_length=6)
        message_id = CharField(max_length=64)
        destination = CharField(max_length=6)
        next_hop = CharField(max_length=6)
        kind = CharField(max_length=6, default='own')
        payload_type = CharField(max_length=80)
        payload = BlobField()
        sign_key_id = CharField(max_length=64, default='')
        created_at = DateTimeField()
        attempts = IntegerField(default=0)
        next_attempt_at = DateTimeField()
        status = CharField(max_length=8, default='pending')
        last_error = TextField(default='')
        reject_reason = CharField(max_length=32, default='')
        ack_status = CharField(max_length=10, default='')
        sent_at = DateTimeField(null=True)
        class Meta:
            database = db
            table_name = 'outbox_message'
            indexes = ((('origin', 'message_id'), True), (('next_hop', 'status', 'id'), False))
    db.create_tables([OutboxMessage])

    class Peer(Model):
        region = CharField(unique=True, max_length=6)
        relation = CharField(max_length=8)
        name = CharField(max_length=60, default='')
        address = CharField(max_length=200, default='')
        enabled = BooleanField(default=True)
        last_success_at = DateTimeField(null=True)
        last_error = TextField(default='')
        created_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'peer'
    db.create_tables([Peer])

    class PhoneRating(Model):
        call = ForeignKeyField(Call, unique=True, on_delete='CASCADE')
        agent = ForeignKeyField(Agent, null=True, on_delete='SET NULL')
        score = IntegerField()
        at = DateTimeField(index=True)
        class Meta:
            database = db
            table_name = 'phone_rating'
    db.create_tables([PhoneRating])

    class PortalHit(Model):
        kind = CharField(max_length=10)
        address = CharField(max_length=64)
        at = DateTimeField()
        class Meta:
            database = db
            table_name = 'portal_hit'
            indexes = ((('kind', 'address', 'at'), False),)
    db.create_tables([PortalHit])

    class ReasonCode(Model):
        kind = CharField(max_length=10)
        code = CharField(max_length=4)
        name = CharField(max_length=40)
        class Meta:
            database = db
            table_name = 'reason_code'
            indexes = ((('kind', 'code'), True),)
    db.create_tables([ReasonCode])

    class Recording(Model):
        call = ForeignKeyField(Call, unique=True, on_delete='CASCADE')
        path = CharField(max_length=200)
        status = CharField(index=True, max_length=10, default='recording')
        note = CharField(max_length=200, default='')
        started_at = DateTimeField()
        ended_at = DateTimeField(null=True)
        duration_s = FloatField(null=True)
        size_bytes = IntegerField(null=True)
        retain_until = DateField(index=True, null=True)
        order_number = CharField(index=True, max_length=21, default='')
        contact_id = IntegerField(null=True)
        class Meta:
            database = db
            table_name = 'recording'
    db.create_tables([Recording])

    class RecordQueue(Model):
        order_id = IntegerField(unique=True)
        version = IntegerField()
        changed_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'record_queue'
    db.create_tables([RecordQueue])

    class Region(Model):
        code = CharField(primary_key=True, max_length=6)
        name = CharField(max_length=40)
        level = SmallIntegerField()
        parent_code = CharField(index=True, max_length=6, default='')
        retired = BooleanField(default=False)
        class Meta:
            database = db
            table_name = 'region'
    db.create_tables([Region])

    class RemoteOrder(Model):
        reporter = CharField(max_length=6)
        number = CharField(max_length=21)
        origin_node = CharField(max_length=6)
        handling_node = CharField(max_length=6)
        region_code = CharField(index=True, max_length=6)
        business_type = CharField(max_length=2, default='')
        domain = CharField(max_length=2, default='')
        channel = CharField(max_length=2, default='')
        state = CharField(max_length=20)
        category = CharField(max_length=8, default='')
        accepted_at = DateTimeField(index=True)
        closed_at = DateTimeField(null=True)
        revision = BigIntegerField()
        received_at = DateTimeField()
        record = BlobField()
        class Meta:
            database = db
            table_name = 'remote_order'
            indexes = ((('reporter', 'number'), True), (('reporter', 'accepted_at'), False))
    db.create_tables([RemoteOrder])

    class ReportCount(Model):
        report = ForeignKeyField(NodeReport, on_delete='CASCADE')
        node = CharField(max_length=6)
        report_date = DateField()
        metric = CharField(max_length=32)
        business_type = CharField(max_length=2, default='')
        domain = CharField(max_length=2, default='')
        channel = CharField(max_length=2, default='')
        value = BigIntegerField()
        class Meta:
            database = db
            table_name = 'report_count'
            indexes = ((('report_date', 'node'), False),)
    db.create_tables([ReportCount])

    class ReturnRequest(Model):
        order = ForeignKeyField(WorkOrder, on_delete='CASCADE')
        unit = ForeignKeyField(Unit, on_delete='RESTRICT')
        reason_code = CharField(max_length=4)
        reason = TextField(default='')
        previous_state = CharField(max_length=20)
        requested_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        requested_at = DateTimeField()
        decision = CharField(max_length=10, default='pending')
        decided_by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        decided_at = DateTimeField(null=True)
        decision_note = TextField(default='')
        class Meta:
            database = db
            table_name = 'return_request'
    db.create_tables([ReturnRequest])

    class SlaPolicy(Model):
        business_type = CharField(max_length=2)
        domain_code = CharField(max_length=2, default='')
        node_region = CharField(max_length=6, default='')
        limit_value = IntegerField()
        limit_unit = CharField(max_length=10, default='workday')
        sign_minutes = IntegerField(default=30)
        max_extensions = IntegerField(default=1)
        max_extension_days = IntegerField(default=15)
        max_returns = IntegerField(default=3)
        requires_approval = BooleanField(default=False)
        requires_review = BooleanField(default=True)
        callback_workdays = IntegerField(default=3)
        warn_percents = CharField(max_length=20, default='50,80')
        active = BooleanField(default=True)
        class Meta:
            database = db
            table_name = 'sla_policy'
            indexes = ((('business_type', 'domain_code', 'node_region'), True),)
    db.create_tables([SlaPolicy])

    class SpotCheck(Model):
        check_id = CharField(unique=True, max_length=40)
        target = CharField(index=True, max_length=6)
        title = CharField(max_length=100)
        business_type = CharField(max_length=2)
        domain = CharField(max_length=2, default='')
        region_code = CharField(max_length=6)
        instructions = TextField(default='')
        issued_by = CharField(max_length=40, default='')
        issued_at = DateTimeField()
        due_at = DateTimeField(null=True)
        order_number = CharField(max_length=21, default='')
        status = CharField(max_length=10, default='sent')
        last_sequence = BigIntegerField(default=0)
        remote_state = CharField(max_length=20, default='')
        note = TextField(default='')
        accepted_at = DateTimeField(null=True)
        signed_at = DateTimeField(null=True)
        replied_at = DateTimeField(null=True)
        closed_at = DateTimeField(null=True)
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'spot_check'
    db.create_tables([SpotCheck])

    class SubBusiness(Model):
        code = CharField(primary_key=True, max_length=4)
        domain = ForeignKeyField(Domain)
        name = CharField(max_length=30)
        pinyin = CharField(max_length=60, default='')
        class Meta:
            database = db
            table_name = 'sub_business'
    db.create_tables([SubBusiness])

    class TextModel(Model):
        kind = CharField(max_length=20)
        version = IntegerField()
        created_at = DateTimeField()
        algorithm = CharField(max_length=60)
        source = CharField(max_length=200, default='')
        samples = IntegerField(default=0)
        metrics = JsonText(null=True)
        labels = JsonText(null=True)
        blob = BlobField()
        active = BooleanField(default=False)
        class Meta:
            database = db
            table_name = 'text_model'
            indexes = ((('kind', 'version'), True),)
    db.create_tables([TextModel])

    class TransferLink(Model):
        transfer_id = CharField(max_length=64)
        number = CharField(index=True, max_length=21)
        direction = CharField(max_length=3)
        peer = CharField(max_length=6)
        status = CharField(max_length=10, default='sent')
        last_sequence = BigIntegerField(default=0)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        class Meta:
            database = db
            table_name = 'transfer_link'
            indexes = ((('transfer_id', 'direction'), True),)
    db.create_tables([TransferLink])

    class UnitContact(Model):
        unit = ForeignKeyField(Unit, on_delete='CASCADE')
        name = CharField(max_length=40)
        position = CharField(max_length=40, default='')
        phone = CharField(max_length=40, default='')
        email = CharField(max_length=100, default='')
        is_primary = BooleanField(default=False)
        class Meta:
            database = db
            table_name = 'unit_contact'
    db.create_tables([UnitContact])

    class Urge(Model):
        order = ForeignKeyField(WorkOrder, on_delete='CASCADE')
        unit = ForeignKeyField(Unit, null=True, on_delete='RESTRICT')
        by = ForeignKeyField(User, null=True, on_delete='SET NULL')
        at = DateTimeField()
        note = TextField(default='')
        automatic = BooleanField(default=False)
        level = CharField(max_length=10, default='')
        class Meta:
            database = db
            table_name = 'urge'
    db.create_tables([Urge])


def down(migrator, db):
    migrator.migrate(migrator.drop_table('urge'))
    migrator.migrate(migrator.drop_table('unit_contact'))
    migrator.migrate(migrator.drop_table('transfer_link'))
    migrator.migrate(migrator.drop_table('text_model'))
    migrator.migrate(migrator.drop_table('sub_business'))
    migrator.migrate(migrator.drop_table('spot_check'))
    migrator.migrate(migrator.drop_table('sla_policy'))
    migrator.migrate(migrator.drop_table('return_request'))
    migrator.migrate(migrator.drop_table('report_count'))
    migrator.migrate(migrator.drop_table('remote_order'))
    migrator.migrate(migrator.drop_table('region'))
    migrator.migrate(migrator.drop_table('record_queue'))
    migrator.migrate(migrator.drop_table('recording'))
    migrator.migrate(migrator.drop_table('reason_code'))
    migrator.migrate(migrator.drop_table('portal_hit'))
    migrator.migrate(migrator.drop_table('phone_rating'))
    migrator.migrate(migrator.drop_table('peer'))
    migrator.migrate(migrator.drop_table('outbox_message'))
    migrator.migrate(migrator.drop_table('order_sequence'))
    migrator.migrate(migrator.drop_table('order_event'))
    migrator.migrate(migrator.drop_table('node_report'))
    migrator.migrate(migrator.drop_table('node_key'))
    migrator.migrate(migrator.drop_table('login_attempt'))
    migrator.migrate(migrator.drop_table('knowledge_bulletin'))
    migrator.migrate(migrator.drop_table('job_run'))
    migrator.migrate(migrator.drop_table('ivr_menu'))
    migrator.migrate(migrator.drop_table('inbox_message'))
    migrator.migrate(migrator.drop_table('extension'))
    migrator.migrate(migrator.drop_table('engine'))
    migrator.migrate(migrator.drop_table('duplicate_decision'))
    migrator.migrate(migrator.drop_table('domain'))
    migrator.migrate(migrator.drop_table('contact'))
    migrator.migrate(migrator.drop_table('channel'))
    migrator.migrate(migrator.drop_table('category_choice'))
    migrator.migrate(migrator.drop_table('call_event'))
    migrator.migrate(migrator.drop_table('callback_task'))
    migrator.migrate(migrator.drop_table('call'))
    migrator.migrate(migrator.drop_table('calendar_override'))
    migrator.migrate(migrator.drop_table('business_type'))
    migrator.migrate(migrator.drop_table('assignment'))
    migrator.migrate(migrator.drop_table('work_order'))
    migrator.migrate(migrator.drop_table('api_token'))
    migrator.migrate(migrator.drop_table('agent_state_log'))
    migrator.migrate(migrator.drop_table('agent'))
    migrator.migrate(migrator.drop_table('user'))
    migrator.migrate(migrator.drop_table('unit'))
