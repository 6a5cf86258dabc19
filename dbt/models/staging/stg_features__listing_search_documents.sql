-- One row per loaded listing with its full-text search document.

with

source as (

    select * from {{ source('features', 'listing_search_documents') }}

),

renamed as (

    select
        ---------- ids
        file_id,
        position,

        ---------- title (weight A) and abstract (weight B), English
        search_document

    from source

)

select * from renamed
