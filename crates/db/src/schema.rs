//! Diesel's view of the tables created by the migrations in `migrations/`.

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    jurisdictions (id) {
        id -> Int8,
        slug -> Text,
        name -> Text,
        boundary -> Geometry,
        locale -> Text,
        time_zone -> Text,
        default_department_id -> Nullable<Int8>,
        created_at -> Timestamptz,
        reopen_window_days -> Int4,
    }
}

diesel::table! {
    departments (id) {
        id -> Int8,
        jurisdiction_id -> Int8,
        code -> Text,
        name -> Text,
        names -> Jsonb,
        channel -> Text,
        channel_config -> Jsonb,
        created_at -> Timestamptz,
        active -> Bool,
    }
}

diesel::table! {
    categories (id) {
        id -> Int8,
        jurisdiction_id -> Int8,
        code -> Text,
        name -> Text,
        names -> Jsonb,
        description -> Text,
        descriptions -> Jsonb,
        group_name -> Text,
        dedup_group -> Text,
        attributes -> Jsonb,
        default_priority -> Int2,
        dedup_radius_m -> Int4,
        dedup_window_days -> Int4,
        allow_anonymous -> Bool,
        active -> Bool,
        created_at -> Timestamptz,
        sla_days -> Nullable<Int4>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    service_areas (id) {
        id -> Int8,
        jurisdiction_id -> Int8,
        code -> Text,
        name -> Text,
        kind -> Text,
        priority -> Int4,
        geom -> Geometry,
        created_at -> Timestamptz,
        active -> Bool,
    }
}

diesel::table! {
    routes (id) {
        id -> Int8,
        jurisdiction_id -> Int8,
        category_id -> Nullable<Int8>,
        dedup_group -> Nullable<Text>,
        service_area_id -> Nullable<Int8>,
        department_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    incidents (id) {
        id -> Int8,
        jurisdiction_id -> Int8,
        category_id -> Int8,
        dedup_group -> Text,
        location -> Geography,
        status -> Text,
        priority -> Int2,
        department_id -> Nullable<Int8>,
        service_area_id -> Nullable<Int8>,
        report_count -> Int4,
        supporters_count -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        closed_at -> Nullable<Timestamptz>,
        address -> Nullable<Text>,
        summary -> Text,
        last_reported_at -> Timestamptz,
        version -> Int4,
        assignee_id -> Nullable<Int8>,
        due_at -> Nullable<Timestamptz>,
        merged_into_id -> Nullable<Int8>,
    }
}

diesel::table! {
    incident_supports (id) {
        id -> Int8,
        incident_id -> Int8,
        supporter_hash -> Bytea,
        notify_email -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    incident_follows (id) {
        id -> Int8,
        incident_id -> Int8,
        follower_hash -> Bytea,
        user_id -> Nullable<Int8>,
        notify_email -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    reports (id) {
        id -> Int8,
        jurisdiction_id -> Int8,
        category_id -> Int8,
        incident_id -> Int8,
        location -> Geography,
        location_accuracy_m -> Nullable<Float4>,
        address -> Nullable<Text>,
        description -> Text,
        attributes -> Jsonb,
        status -> Text,
        priority -> Int2,
        department_id -> Nullable<Int8>,
        service_area_id -> Nullable<Int8>,
        source -> Text,
        contact_email -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        request_fingerprint -> Nullable<Bytea>,
        external_id -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        closed_at -> Nullable<Timestamptz>,
        reporter_id -> Nullable<Int8>,
        device_hash -> Nullable<Bytea>,
        map_folded -> Bool,
        external_media_url -> Nullable<Text>,
        api_key_id -> Nullable<Int8>,
    }
}

diesel::table! {
    report_events (id) {
        id -> Int8,
        report_id -> Int8,
        kind -> Text,
        status_from -> Nullable<Text>,
        status_to -> Nullable<Text>,
        body -> Text,
        is_internal -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    /// The view that public endpoints read: no personal data is selectable through it.
    public_reports (id) {
        id -> Int8,
        jurisdiction_id -> Int8,
        jurisdiction_slug -> Text,
        category_id -> Int8,
        category_code -> Text,
        category_name -> Text,
        incident_id -> Int8,
        location -> Geography,
        location_accuracy_m -> Nullable<Float4>,
        address -> Nullable<Text>,
        description -> Text,
        status -> Text,
        priority -> Int2,
        department_code -> Nullable<Text>,
        department_name -> Nullable<Text>,
        service_area_code -> Nullable<Text>,
        service_area_name -> Nullable<Text>,
        source -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        closed_at -> Nullable<Timestamptz>,
        external_media_url -> Nullable<Text>,
        due_at -> Nullable<Timestamptz>,
        incident_report_count -> Int4,
        incident_supporters_count -> Int4,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    addresses (id) {
        id -> Int8,
        jurisdiction_id -> Int8,
        label -> Text,
        kind -> Text,
        street_key -> Text,
        street -> Text,
        house_from -> Nullable<Int4>,
        house_to -> Nullable<Int4>,
        locality -> Text,
        search_key -> Text,
        location -> Geography,
        sample_count -> Int4,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Int8,
        name -> Text,
        key_prefix -> Text,
        secret_hash -> Bytea,
        scopes -> Array<Text>,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        email -> Text,
        password_hash -> Text,
        display_name -> Text,
        role -> Text,
        jurisdiction_id -> Nullable<Int8>,
        created_at -> Timestamptz,
        disabled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    staff_departments (user_id, department_id) {
        user_id -> Int8,
        department_id -> Int8,
        jurisdiction_id -> Int8,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Int8,
        user_id -> Int8,
        family -> Bytea,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        jurisdiction_id -> Nullable<Int8>,
        actor_id -> Nullable<Int8>,
        action -> Text,
        target_id -> Nullable<Int8>,
        detail -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    /// Report counts per map grid cell, category and status (see the `map_aggregates` migration).
    map_cells (level, cell_x, cell_y, category_id, status) {
        level -> Int2,
        cell_x -> Int4,
        cell_y -> Int4,
        category_id -> Int8,
        status -> Text,
        reports -> Int4,
        sum_lon -> Float8,
        sum_lat -> Float8,
        sum_id -> Int8,
    }
}

diesel::table! {
    outbox (id) {
        id -> Int8,
        jurisdiction_id -> Int8,
        message -> Text,
        channel -> Text,
        destination -> Text,
        department_id -> Nullable<Int8>,
        subscription_id -> Nullable<Int8>,
        report_id -> Nullable<Int8>,
        alert_id -> Nullable<Int8>,
        payload -> Jsonb,
        delivery_key -> Text,
        state -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webhook_subscriptions (id) {
        id -> Int8,
        api_key_id -> Int8,
        jurisdiction_id -> Int8,
        url -> Text,
        secret -> Text,
        events -> Array<Text>,
        created_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use postgis_diesel::sql_types::*;

    area_alerts (id) {
        id -> Int8,
        jurisdiction_id -> Int8,
        email -> Text,
        center -> Nullable<Geography>,
        radius_m -> Nullable<Int4>,
        service_area_id -> Nullable<Int8>,
        category_codes -> Array<Text>,
        frequency -> Text,
        created_at -> Timestamptz,
        confirmed_at -> Nullable<Timestamptz>,
        cancelled_at -> Nullable<Timestamptz>,
        last_digest_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    forwards (report_id) {
        report_id -> Int8,
        department_id -> Int8,
        service_request_id -> Text,
        remote_status -> Text,
        forwarded_at -> Timestamptz,
        polled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    email_optouts (email_hash) {
        email_hash -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    /// Photos of reports (see the `media` migration); the bytes are in the photo store.
    media (id) {
        id -> Int8,
        report_id -> Int8,
        kind -> Text,
        storage_key -> Text,
        content_type -> Text,
        byte_size -> Int4,
        width -> Int4,
        height -> Int4,
        thumbnail_byte_size -> Int4,
        uploaded_by -> Nullable<Int8>,
        upload_key -> Nullable<Text>,
        upload_fingerprint -> Nullable<Bytea>,
        upload_position -> Nullable<Int2>,
        hidden_at -> Nullable<Timestamptz>,
        hidden_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(departments -> jurisdictions (jurisdiction_id));
diesel::joinable!(categories -> jurisdictions (jurisdiction_id));
diesel::joinable!(service_areas -> jurisdictions (jurisdiction_id));
diesel::joinable!(routes -> departments (department_id));
diesel::joinable!(reports -> incidents (incident_id));
diesel::joinable!(incident_supports -> incidents (incident_id));
diesel::joinable!(incident_follows -> incidents (incident_id));
diesel::joinable!(reports -> categories (category_id));
diesel::joinable!(report_events -> reports (report_id));
diesel::joinable!(staff_departments -> users (user_id));
diesel::joinable!(staff_departments -> departments (department_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(incidents -> categories (category_id));
diesel::joinable!(outbox -> reports (report_id));
diesel::joinable!(forwards -> departments (department_id));
diesel::joinable!(media -> reports (report_id));
diesel::joinable!(webhook_subscriptions -> api_keys (api_key_id));

diesel::allow_tables_to_appear_in_same_query!(
    jurisdictions,
    departments,
    categories,
    service_areas,
    routes,
    incidents,
    incident_supports,
    incident_follows,
    reports,
    report_events,
    public_reports,
    api_keys,
    users,
    staff_departments,
    refresh_tokens,
    audit_log,
    outbox,
    email_optouts,
    webhook_subscriptions,
    forwards,
    area_alerts,
    map_cells,
    media,
    addresses,
);
