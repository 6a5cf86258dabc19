with

source as (

    select * from {{ source('raw', 'paper_listings') }}

),

renamed as (

    select
        ---------- ids
        file_id,
        position,
        line_number,

        ---------- text
        title,
        abstract,

        ---------- metadata
        authors_count,
        organization,
        published_text,
        published_on,
        upvotes,

        ---------- time
        loaded_at

    from source

)

select * from renamed
